"""Benchmark vendor polling: N live Luma videos through one real Celery worker process, against a fake Luma
on 127.0.0.1 whose tasks need several polls each, compared with a worker that sleeps between polls.

Ours: the services create N videos (charged, start task sent on commit, as the API does); the worker submits
up to LUMA_MAX_CONCURRENT at a time (the rest wait in `pending`), polls each task once per message and
reschedules it with a countdown, downloads, probes and stores the result.

Baseline (actually run, same run) at EQUAL in-flight: `--baseline-threads` threads (default: the cap, so
both keep at most `cap` tasks at the vendor), each taking one video at a time through
submit -> (sleep poll_interval, poll) until final -> download + probe, with one kept-alive session per
thread, against a second instance of the same fake with the same script. Bounded to --baseline-seconds;
its wall time for N videos is extrapolated from the videos it finished (and shown next to the sleeps-only
floor N x polls x interval / threads). A ratio below 1 means the plain loop is faster than our worker.

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/benchdb; created if
missing, migrated, FLUSHED) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/11; broker and
cache, FLUSHED at start). Only 127.0.0.1 is contacted.

    .venv/bin/python bench/vendor_polling.py [--videos 300] [--concurrency 1] [--cap 20] [--poll-interval 0.3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
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
    p.add_argument("--videos", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=1, help="worker processes (celery --concurrency)")
    p.add_argument("--cap", type=int, default=20, help="LUMA_MAX_CONCURRENT")
    p.add_argument("--poll-interval", type=float, default=0.3, help="LUMA_POLL_INTERVAL, seconds")
    p.add_argument("--polls", type=int, default=4, help="polls per task: queued, running x (polls-2), succeeded")
    p.add_argument("--sweep-interval", type=int, default=15, help="SWEEP_INTERVAL (the production default)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up on our run after this many seconds")
    p.add_argument("--baseline-threads", type=int, default=None,
                   help="threads of the sleeping loop; default --cap (equal in-flight)")
    p.add_argument("--baseline-seconds", type=float, default=20.0, help="how long the sleeping baseline runs")
    return p.parse_args()


def _ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _configure(fake_base_url: str, api_key: str, args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    """The environment of both processes (this one creates videos, the worker makes them)."""
    env = {
        "DATABASE_URL": f"{PG}/{DB_NAME}", "CELERY_BROKER_URL": REDIS, "REDIS_URL": REDIS,
        "SECRET_KEY": "bench-secret-key", "DEBUG": "false", "DATA_DIR": str(data_dir),
        "MEDIA_ROOT": str(data_dir / "media"), "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "SWEEP_INTERVAL": str(args.sweep_interval), "LOG_LEVEL": "WARNING",
        "LUMA_API_KEY": api_key, "LUMA_BASE_URL": fake_base_url, "LUMA_MAX_CONCURRENT": str(args.cap),
        "LUMA_POLL_INTERVAL": str(args.poll_interval), "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
    os.environ.update(env)
    return env


def _script(polls: int) -> list[str]:
    return ["queued"] + [f"running:{round(100 * (i + 1) / polls)}" for i in range(polls - 2)] + ["succeeded"]


def _small_mp4(path: Path) -> bytes:
    from videos.providers.render import RenderSpec, render

    render(RenderSpec(prompt="vendor result", width=160, height=90, duration=0.5), video_path=str(path),
           thumbnail_path=str(path) + ".jpg", last_frame_path=str(path) + ".png")
    return path.read_bytes()


def _start_worker(env: dict[str, str], args: argparse.Namespace, tmp: Path) -> tuple[subprocess.Popen, Path]:
    log_path = tmp / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--beat", "--loglevel", "INFO",
         "--concurrency", str(args.concurrency), "--without-gossip", "--without-mingle",
         "--schedule", str(tmp / "beat")],
        cwd=ROOT, env={**os.environ, **env}, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b"ready." not in log_path.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("worker did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)
    return worker, log_path


def _stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()


def _task_counts(log_path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if "] succeeded in " in line and "Task videos.tasks." in line:
            name = line.split("Task videos.tasks.")[1].split("[")[0]
            counts[name] = counts.get(name, 0) + 1
    return counts


def _count_connections(fake: Any) -> list[object]:
    """Every TCP connection the fake vendor accepts (kept-alive sessions reuse theirs across polls)."""
    accepted: list[object] = []
    accept = fake.server.get_request

    def get_request() -> Any:
        conn = accept()
        accepted.append(conn[1])
        return conn

    fake.server.get_request = get_request
    return accepted


def run_ours(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from tests.fakevendors.luma import FakeLuma

    fake = FakeLuma().start()
    connections = _count_connections(fake)
    fake.script = _script(args.polls)
    env = _configure(fake.base_url, fake.api_key, args, tmp / "data")
    _ensure_database()
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from billing.models import CreditEntry
    from dashboard.celery import app
    from tests.factories import make_session, make_user
    from videos.catalog import catalog_sync
    from videos.models import Video, VideoModel

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)  # a clean slate each run; the catalog comes back below
    catalog_sync(VideoModel)
    redis.Redis.from_url(REDIS).flushdb()  # stale messages and locks from an earlier run
    fake.video = _small_mp4(tmp / "vendor.mp4")
    app.control.purge()
    worker, log_path = _start_worker(env, args, tmp)
    try:
        user = make_user("bench", credits=args.videos * PRICE)
        started = time.monotonic()
        for i in range(args.videos):
            make_session(owner=user, model=MODEL, prompt=f"wave number {i} breaking on the shore")
        created = time.monotonic() - started
        final = [Video.Status.COMPLETED, Video.Status.FAILED]
        done = 0
        while done < args.videos and time.monotonic() - started < args.timeout:
            time.sleep(0.2)
            done = Video.objects.filter(status__in=final).count()
        wall = time.monotonic() - started
    finally:
        _stop(worker)
        fake.stop()
    polls = sum(1 for r in fake.requests if r.method == "GET" and "/generations/" in r.path)
    charges = CreditEntry.objects.filter(kind="charge")
    return {
        "wall": wall, "created": created, "completed": Video.objects.filter(status="completed").count(),
        "failed": Video.objects.filter(status="failed").count(), "creates": len(fake.posted("/generations/video")),
        "polls": polls, "peak": fake.max_in_flight, "tasks": _task_counts(log_path), "connections": len(connections),
        "requests": len(fake.requests),
        "charged_once": charges.count() == args.videos == charges.values("video_id").distinct().count(),
        "job": _a_job(),
    }


def _a_job() -> Any:
    from videos.models import Video
    from videos.services.work import job_for_video

    return job_for_video(Video.objects.select_related("session", "model", "owner").first())


def run_sleeping_baseline(args: argparse.Namespace, job: Any, video: bytes) -> dict[str, Any]:
    """`concurrency` workers that each hold one video from submit to result, sleeping between polls."""
    from tests.fakevendors.luma import FakeLuma
    from videos.providers.base import JobStatus
    from videos.providers.luma import LumaProvider
    from videos.providers.render import probe

    fake = FakeLuma().start()
    fake.script, fake.video = _script(args.polls), video
    connections = _count_connections(fake)
    lock, finished, poll_latency = threading.Lock(), [], []
    stop_at = time.monotonic() + args.baseline_seconds

    def worker_loop() -> None:
        provider = LumaProvider()
        provider.base_url, provider.config = fake.base_url, {**provider.config, "api_key": fake.api_key}
        while time.monotonic() < stop_at:
            t0 = time.monotonic()
            task_id = provider.submit(job)
            while True:
                time.sleep(args.poll_interval)  # what a sleeping worker does: hold the slot while it waits
                p0 = time.monotonic()
                status = provider.poll(task_id, job)
                with lock:
                    poll_latency.append(time.monotonic() - p0)
                if status.state in (JobStatus.COMPLETED, JobStatus.FAILED):
                    break
            with tempfile.NamedTemporaryFile(suffix=".mp4") as out:
                provider.download(status, job, out)
                out.flush()
                probe(out.name)
            with lock:
                finished.append(time.monotonic() - t0)

    threads = [threading.Thread(target=worker_loop) for _ in range(args.baseline_threads)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = time.monotonic() - started
    fake.stop()
    per_video = sum(finished) / len(finished)
    return {"ran": ran, "videos": len(finished), "per_video": per_video, "peak": fake.max_in_flight,
            "connections": len(connections), "requests": len(fake.requests),
            "wall_projected": args.videos * per_video / args.baseline_threads,
            "poll_latency_ms": 1000 * sum(poll_latency) / len(poll_latency),
            "floor": args.videos * args.polls * args.poll_interval / args.baseline_threads}


def main() -> None:
    args = _args()
    args.baseline_threads = args.baseline_threads or args.cap
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-polling-") as d:
        tmp = Path(d)
        ours = run_ours(args, tmp)
        base = run_sleeping_baseline(args, ours["job"], (tmp / "vendor.mp4").read_bytes())
    n = args.videos
    starts = ours["tasks"].get("video_start_task", 0)
    print(f"\n{n} Luma videos, {args.polls} polls each every {args.poll_interval:g} s, cap {args.cap}, "
          f"worker --concurrency {args.concurrency}, SWEEP_INTERVAL {args.sweep_interval}; fake Luma on 127.0.0.1\n")
    print(f"| | ours (poll once, reschedule) | sleeping loop, {args.baseline_threads} threads (baseline) |")
    print("|---|---|---|")
    print(f"| wall time for {n} videos | {ours['wall']:.1f} s (creation {ours['created']:.1f} s of it) "
          f"| {base['wall_projected']:.1f} s projected ({base['videos']} done in {base['ran']:.0f} s, "
          f"{base['per_video']:.2f} s each); sleeps alone {base['floor']:.0f} s |")
    print(f"| completed / failed | {ours['completed']} / {ours['failed']} | - |")
    print(f"| vendor polls per second | {ours['polls'] / ours['wall']:.1f} ({ours['polls']} polls) "
          f"| {base['videos'] * args.polls / base['ran']:.1f} |")
    over = " (**over the cap**)" if ours["peak"] > args.cap else ""
    print(f"| peak in flight at the vendor (cap {args.cap}) | {ours['peak']}{over} | {base['peak']} |")
    print(f"| vendor creates | {ours['creates']} | - |")
    print(f"| TCP connections the vendor accepted / HTTP requests | {ours['connections']} / {ours['requests']} "
          f"| {base['connections']} / {base['requests']} |")
    print(f"| worker tasks run | {starts} starts ({starts - n} sent again once a slot was reserved), "
          f"{ours['tasks'].get('video_poll_task', 0)} polls | - |")
    print(f"| every video charged once | {ours['charged_once']} | - |")
    print(f"| mean vendor poll latency | - | {base['poll_latency_ms']:.1f} ms |")
    print(f"| **ours vs sleeping loop at equal in-flight** (>1: ours faster) "
          f"| **{base['wall_projected'] / ours['wall']:.2f}x** | 1x |")
    one, five, _ = os.getloadavg()
    print(f"\nload average (1/5 min) at the end: {one:.1f} / {five:.1f} on {os.cpu_count()} cores")
    print("\ncommand: .venv/bin/python bench/vendor_polling.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
