"""Benchmark vendor polling: polls a minute from ONE poller process (`manage.py pollvendors`) with N Luma jobs
in flight, against a fake Luma in a separate process on 127.0.0.1 that answers every status request after
--latency seconds (50 ms), compared in the same run with a plain thread loop at equal in-flight.

Ours: the services create N videos (charged, start task sent on commit, as the API does); a real Celery worker
(POLLER_IN_WORKER=false) submits them (LUMA_MAX_CONCURRENT = N, so all are in flight) and one pollvendors
process polls them: due videos claimed in batches from PostgreSQL, polled on LUMA_POLL_CONCURRENCY kept-alive
connections, answers written in batches. Once every job is at the vendor, the polls the fake answered over
--window seconds give the rate. Then the fake finishes every job: each is handed to the worker, downloaded,
probed and stored; the bench checks each video completed with one charge.

Baselines (same run, each with its own fake process and the same latency), plain thread loops with the same
LumaProvider code and a kept-alive session per thread, no database, no leases: (1) N threads, one job each
(equal in-flight: N jobs; no cap on requests at once, N connections); (2) as many threads as the poller's
LUMA_POLL_CONCURRENCY, sharing the N jobs (equal in-flight AND equal requests at once). Each thread submits
its jobs, then polls each one --poll-interval after its last answer; the polls its fake answered over the
same window give its rate.

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/benchdb; created if missing,
migrated, FLUSHED) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/11; broker and cache, FLUSHED at
start). Only 127.0.0.1 is contacted.

    .venv/bin/python bench/vendor_polling.py [--videos 600] [--poll-interval 1] [--latency 0.05] [--window 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/benchdb")
PG, _, DB_NAME = DATABASE_URL.rpartition("/")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
MODEL = "luma-ray-2.0-flash-5s-t2v"
PRICE = 20


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=600, help="jobs in flight (LUMA_MAX_CONCURRENT, baseline threads)")
    p.add_argument("--poll-interval", type=float, default=1.0, help="LUMA_POLL_INTERVAL, seconds")
    p.add_argument("--latency", type=float, default=0.05, help="the fake vendor's answer time, seconds")
    p.add_argument("--poll-concurrency", type=int, default=32, help="LUMA_POLL_CONCURRENCY of the poller")
    p.add_argument("--window", type=float, default=30.0, help="seconds over which polls are counted")
    p.add_argument("--timeout", type=float, default=900.0, help="give up waiting for a phase after this long")
    return p.parse_args()


class Fake:
    """The fake vendor's process."""

    def __init__(self, latency: float, video: Path | None = None) -> None:
        cmd = [sys.executable, str(ROOT / "bench" / "fakevendor_server.py"), "--latency", str(latency)]
        if video is not None:
            cmd += ["--video", str(video)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        self.root = self.base_url.rsplit("/dream-machine", 1)[0]
        self.pid = self.proc.pid

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.root}/__stats", timeout=30) as r:
            return json.loads(r.read())

    def finish(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.root}/__finish", method="POST"), timeout=30).read()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _window(fake: Fake, seconds: float, pid: int | None = None) -> dict[str, Any]:
    """Polls the fake answered over `seconds` (and the CPU `pid` used meanwhile)."""
    a, ta, ca = fake.stats(), time.monotonic(), _cpu_seconds(pid) if pid else 0.0
    time.sleep(seconds)
    b, tb, cb = fake.stats(), time.monotonic(), _cpu_seconds(pid) if pid else 0.0
    polls = b["polls"] - a["polls"]
    return {"polls": polls, "seconds": tb - ta, "per_min": 60 * polls / (tb - ta), "cpu": cb - ca,
            "load": os.getloadavg()[0]}


def _wait(condition: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting: {what}")
        time.sleep(0.5)


def _ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _small_mp4(path: Path) -> Path:
    from videos.providers.render import RenderSpec, render

    render(RenderSpec(prompt="vendor result", width=160, height=90, duration=0.5), video_path=str(path),
           thumbnail_path=str(path) + ".jpg", last_frame_path=str(path) + ".png")
    return path


def _spawn(cmd: list[str], env: dict[str, str], log: Path, ready: bytes, timeout: float = 60) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while ready not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{cmd[2]} did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.2)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_ours(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env = {
        "DATABASE_URL": f"{PG}/{DB_NAME}", "CELERY_BROKER_URL": REDIS, "REDIS_URL": REDIS,
        "SECRET_KEY": "bench-secret-key", "DEBUG": "false", "DATA_DIR": str(tmp / "data"),
        "MEDIA_ROOT": str(tmp / "data" / "media"), "PUBLIC_BASE_URL": "http://127.0.0.1:9", "LOG_LEVEL": "WARNING",
        "LUMA_API_KEY": "test-key-0123456789abcdef", "LUMA_MAX_CONCURRENT": str(args.videos),
        "LUMA_POLL_INTERVAL": str(args.poll_interval), "LUMA_POLL_CONCURRENCY": str(args.poll_concurrency),
        "POLLER_IN_WORKER": "false", "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "VIDEO_DEADLINE_SECONDS": "7200",
    }
    os.environ.update(env)
    _ensure_database()
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from dashboard.celery import app

    mp4 = _small_mp4(tmp / "vendor.mp4")
    fake = Fake(args.latency, mp4)
    os.environ["LUMA_BASE_URL"] = env["LUMA_BASE_URL"] = fake.base_url
    from django.conf import settings

    settings.PROVIDER_SETTINGS["luma"].update(api_key=env["LUMA_API_KEY"], base_url=fake.base_url)
    from billing.models import CreditEntry
    from tests.factories import make_session, make_user
    from videos.catalog import catalog_sync
    from videos.models import Video, VideoModel

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)  # a clean slate each run; the catalog comes back below
    catalog_sync(VideoModel)
    redis.Redis.from_url(REDIS).flushdb()
    app.control.purge()
    full_env = {**os.environ, **env}
    worker = _spawn([sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--beat", "--loglevel", "INFO",
                     "--concurrency", "2", "--without-gossip", "--without-mingle", "--schedule", str(tmp / "beat")],
                    full_env, tmp / "worker.log", b"ready.")
    poller = _spawn([sys.executable, str(ROOT / "manage.py"), "pollvendors"], full_env, tmp / "poller.log",
                    b"vendor poller")
    try:
        user = make_user("bench", credits=args.videos * PRICE)
        started = time.monotonic()
        for i in range(args.videos):
            make_session(owner=user, model=MODEL, prompt=f"wave number {i} breaking on the shore")
        created = time.monotonic() - started
        _wait(lambda: fake.stats()["creates"] >= args.videos, "every job at the vendor", args.timeout)
        submitted = time.monotonic() - started
        time.sleep(2 * args.poll_interval)  # past the first polls' burst: steady state
        window = _window(fake, args.window, poller.pid)
        fake.finish()
        final = [Video.Status.COMPLETED, Video.Status.FAILED]
        _wait(lambda: Video.objects.filter(status__in=final).count() >= args.videos, "every video final",
              args.timeout)
        stats = fake.stats()
    finally:
        _stop(poller)
        _stop(worker)
        fake.stop()
    charges = CreditEntry.objects.filter(kind="charge")
    return {
        **window, "created": created, "submitted": submitted, "stats": stats,
        "completed": Video.objects.filter(status="completed").count(),
        "failed": Video.objects.filter(status="failed").count(),
        "charged_once": charges.count() == args.videos == charges.values("video_id").distinct().count(),
        "refunds": CreditEntry.objects.filter(kind="refund").count(), "poller_log": (tmp / "poller.log").read_text(),
        "job": _a_job(),
    }


def _a_job() -> Any:
    from videos.models import Video
    from videos.services.work import job_for_video

    return job_for_video(Video.objects.select_related("session", "model", "owner").first())


def run_thread_loop(args: argparse.Namespace, job: Any, threads: int) -> dict[str, Any]:
    """`threads` threads share the N jobs (one each when threads == N); each thread submits its jobs, then
    polls each one `--poll-interval` after its last answer, forever, on its own kept-alive session."""
    from collections import deque

    from videos.providers.luma import LumaProvider

    fake = Fake(args.latency)
    stop = threading.Event()
    submitted: list[str] = []
    lock = threading.Lock()

    def loop(jobs: int) -> None:
        provider = LumaProvider()  # its own requests.Session: one kept-alive connection per thread
        provider.base_url, provider.config = fake.base_url, {**provider.config, "api_key": "test-key-0123456789abcdef"}
        due: deque[tuple[float, str]] = deque()
        for _ in range(jobs):
            task_id = provider.submit(job)
            due.append((time.monotonic() + args.poll_interval, task_id))
            with lock:
                submitted.append(task_id)
        while due and not stop.is_set():
            when, task_id = due.popleft()
            if stop.wait(max(0.0, when - time.monotonic())):
                return
            provider.poll(task_id, job)
            due.append((time.monotonic() + args.poll_interval, task_id))

    shares = [args.videos // threads + (1 if i < args.videos % threads else 0) for i in range(threads)]
    workers = [threading.Thread(target=loop, args=(n,), daemon=True) for n in shares]
    try:
        for t in workers:
            t.start()
        _wait(lambda: len(submitted) >= args.videos, "every baseline job at the vendor", args.timeout)
        time.sleep(2 * args.poll_interval)
        window = _window(fake, args.window, os.getpid())
    finally:
        stop.set()
        for t in workers:
            t.join(timeout=30)
        stats = fake.stats()
        fake.stop()
    return {**window, "stats": stats, "threads": threads}


def main() -> None:
    args = _args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-polling-") as d:
        ours = run_ours(args, Path(d))
    loops = [run_thread_loop(args, ours["job"], args.videos),
             run_thread_loop(args, ours["job"], args.poll_concurrency)]
    n, s = args.videos, ours["stats"]
    print(f"\n{n} Luma jobs in flight, polled every {args.poll_interval:g} s; fake Luma in its own process on "
          f"127.0.0.1 answering each poll after {1000 * args.latency:g} ms; window {args.window:g} s\n")
    print(f"| | ours: one pollvendors process (LUMA_POLL_CONCURRENCY {args.poll_concurrency}) "
          + "".join(f"| plain thread loop, {b['threads']} threads " for b in loops) + "|")
    print("|---|---|" + "---|" * len(loops))

    def row(label: str, mine: str, theirs: Any) -> None:
        print(f"| {label} | {mine} " + "".join(f"| {theirs(b)} " for b in loops) + "|")

    row("**polls a minute**", f"**{ours['per_min']:,.0f}** ({ours['polls']} in {ours['seconds']:.1f} s)",
        lambda b: f"{b['per_min']:,.0f} ({b['polls']} in {b['seconds']:.1f} s)")
    demand = 60 * n / (args.poll_interval + args.latency)
    row("polls a minute asked for (jobs / (interval + latency))", f"{demand:,.0f}", lambda b: f"{demand:,.0f}")
    row("CPU of the polling process in the window",
        f"{ours['cpu']:.1f} s ({1000 * ours['cpu'] / max(1, ours['polls']):.2f} ms a poll)",
        lambda b: f"{b['cpu']:.1f} s ({1000 * b['cpu'] / max(1, b['polls']):.2f} ms a poll)")
    over = ", **over the cap**" if s["max_polling"] > args.poll_concurrency else ""
    row("status requests at once at the vendor, at most", f"{s['max_polling']} (cap {args.poll_concurrency}{over})",
        lambda b: b["stats"]["max_polling"])
    row(f"jobs in flight at the vendor, at most (LUMA_MAX_CONCURRENT {n})", s["max_in_flight"],
        lambda b: b["stats"]["max_in_flight"])
    row("TCP connections the vendor accepted / HTTP requests", f"{s['connections']} / {s['requests']}",
        lambda b: f"{b['stats']['connections']} / {b['stats']['requests']}")
    row("creation / all jobs at the vendor", f"{ours['created']:.1f} s / {ours['submitted']:.1f} s", lambda b: "-")
    row("completed / failed (after the fake finished them)", f"{ours['completed']} / {ours['failed']}",
        lambda b: "-")
    row("every video charged once, refunds", f"{ours['charged_once']}, {ours['refunds']}", lambda b: "-")
    row("load average (1 min) at the window's end", f"{ours['load']:.2f}", lambda b: f"{b['load']:.2f}")
    row("**ours vs this loop** (>1: ours makes more polls a minute)", "1x",
        lambda b: f"**{ours['per_min'] / b['per_min']:.2f}x**")
    problems = s["problems"] + [p for b in loops for p in b["stats"]["problems"]]
    if problems:
        print(f"\nfake vendor problems: {problems[:5]}")
    one, five, _ = os.getloadavg()
    print(f"\nload average (1/5 min) at the end: {one:.2f} / {five:.2f} on {os.cpu_count()} cores")
    print("command: .venv/bin/python bench/vendor_polling.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
