"""Long-polls on the production server command: wake-up latency, 1,000 held at once, and what the ASGI server
costs plain requests.

On PostgreSQL + Redis, with `gunicorn -c dashboard/gunicorn.conf.py dashboard.asgi:application` (uvicorn
workers), it measures:

1. **Plain requests, ASGI vs the former WSGI server**, in the same run: wrk (C, 1 thread, 8 and 32
   connections) on GET /healthz (bare JSON, no database) and a session poll, against gunicorn gthread
   (`dashboard.wsgi`, 2 workers × 4 threads, the former command) and the uvicorn workers (2 workers, 4 threads
   each for plain requests), servers in turn, median of ROUNDS.
2. **Wake-up latency**: a client holds `GET /api/v3/videos/{id}?wait=30`; the bench commits a change of the
   video's progress (with its change signal, as the worker does) and times commit → the client has the
   answer, over WAKEUPS wake-ups (p50/p95/max).
3. **1,000 concurrent long-polls held by one web process** (WEB_CONCURRENCY=1): the worker process's RSS
   before and while it holds them; then one change wakes them all and every answer must show it.

    .venv/bin/python bench/long_poll.py       # PostgreSQL at 127.0.0.1:5432 (database benchlive), Redis DB 12

BENCH_DATABASE_URL, BENCH_REDIS_URL and LIVE_CHANNEL move it. Needs wrk for part 1 (skipped without).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/benchlive")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CHANNEL = os.environ.get("LIVE_CHANNEL", f"benchlive:{os.getpid()}")
WAKEUPS, HELD, ROUNDS, SECONDS = 120, 1000, 3, 5
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": DB, "REDIS_URL": REDIS, "LIVE_CHANNEL": CHANNEL, "SECRET_KEY": "bench",
            "DEBUG": "false", "DATA_DIR": "/tmp/bench-live", "MEDIA_ROOT": "/tmp/bench-live/media", "ENV_FILE": "none",
            "RATE_LIMIT_PER_MINUTE": "0", "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "CELERY_BROKER_URL": REDIS, "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "127.0.0.1"}


def _setup() -> tuple[str, str, str, int]:
    """Database, user, key, and a session whose one video is rendering (never finished: nothing runs it).
    Returns (key, session id, video id, video pk)."""
    import psycopg

    admin, name = DB.rsplit("/", 1)
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from tests.factories import make_key, make_session, make_user
    from videos.models import Video

    call_command("migrate", verbosity=0)
    User.objects.filter(username="benchlive").delete()
    user = make_user("benchlive", credits=100)
    session = make_session(owner=user, width=320, height=180)
    video = session.videos.get()
    Video.objects.filter(pk=video.pk).update(stage=Video.Stage.RENDERING, status=Video.Status.PROCESSING)
    return make_key(user)[1], session.public_id, video.public_id, video.pk


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(cmd: list[str], port: int, **env: str) -> subprocess.Popen[bytes]:
    import requests

    server = subprocess.Popen(cmd, cwd=ROOT, env={**_env(), "PORT": str(port), "HOST": "127.0.0.1", **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).raise_for_status()
            return server
        except requests.RequestException:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit(f"{cmd} did not start") from None
            time.sleep(0.2)


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


PRODUCTION = [str(BIN / "gunicorn"), "-c", "dashboard/gunicorn.conf.py", "dashboard.asgi:application"]
FORMER = [str(BIN / "gunicorn"), "-c", "dashboard/gunicorn.conf.py", "dashboard.wsgi", "--worker-class", "gthread"]


def _wrk(url: str, headers: dict[str, str], connections: int) -> tuple[float, float, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{SECONDS}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors on {url}:\n{out}")

    def ms(q: str) -> float:
        found = re.search(rf"^\s+{q}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if found is None:
            raise SystemExit(f"no {q} latency in wrk's output:\n{out}")
        value, unit = found.groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), ms("50%"), ms("99%")  # type: ignore[union-attr]


def plain_requests(key: str, session_id: str) -> None:
    if shutil.which("wrk") is None:
        print("part 1 skipped: wrk is not installed (apt-get install -y wrk)\n")
        return
    servers = {"gthread WSGI (former)": FORMER, "uvicorn ASGI (now)": PRODUCTION}
    cases = {"GET /healthz": ("/healthz", {}),
             "GET session poll": (f"/api/v3/videos/sessions/{session_id}", {"X-API-Key": key})}
    runs: dict[tuple[str, str, int], list[tuple[float, float, float]]] = {}
    for _ in range(ROUNDS):
        for server_name, cmd in servers.items():
            port = _port()
            server = _serve(cmd, port, WEB_CONCURRENCY="2", WEB_THREADS="4")
            try:
                for case, (path, headers) in cases.items():
                    for connections in (8, 32):
                        runs.setdefault((server_name, case, connections), []).append(
                            _wrk(f"http://127.0.0.1:{port}{path}", headers, connections))
            finally:
                _stop(server)
    print(f"1. Plain requests: wrk -t1 -d{SECONDS}s, servers in turn, median of {ROUNDS}; 2 workers × 4 threads, "
          f"PostgreSQL + Redis\n")
    print("| server | endpoint | connections | requests/s | p50 ms | p99 ms | vs gthread |")
    print("|---|---|---|---|---|---|---|")
    for (server_name, case, connections), values in runs.items():
        rps, p50, p99 = (statistics.median(v[i] for v in values) for i in range(3))
        former = statistics.median(v[0] for v in runs[("gthread WSGI (former)", case, connections)])
        print(f"| {server_name} | {case} | {connections} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {rps / former:.2f} |")
    print()


def _until_waiting(port: int, count: int) -> None:
    """Until the server's /metrics says exactly `count` clients wait (mcphub_live_waiting: counted once a
    long-poll has read the state it waits to change, until it has answered)."""
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        found = re.search(r"^mcphub_live_waiting\s+([\d.]+)$", text, re.M)
        if (float(found.group(1)) if found else 0.0) == count:
            return
        time.sleep(0.01)
    raise SystemExit(f"the server never held {count} waiting clients")


def _commit_progress(video_pk: int, progress: int) -> float:
    """Write the video's progress with its change signal, as a worker does; returns the time of the commit."""
    from django.db import transaction

    from videos import live
    from videos.models import Video

    with transaction.atomic():
        Video.objects.filter(pk=video_pk).update(progress=progress)
        live.changed_videos([video_pk])
        started = time.perf_counter()  # the commit (and the publish, on commit) follow
    return started


def wakeups(port: int, key: str, video_id: str, video_pk: int) -> None:
    import requests

    url = f"http://127.0.0.1:{port}/api/v3/videos/{video_id}?wait=30"
    http = requests.Session()
    latencies: list[float] = []
    for i in range(WAKEUPS):
        got: dict[str, float | int] = {}

        def poll() -> None:
            r = http.get(url, headers={"X-API-Key": key}, timeout=60)  # noqa: B023
            got["at"], got["progress"] = time.perf_counter(), r.json()["progress"]  # noqa: B023

        _until_waiting(port, 0)  # the previous long-poll is done with
        thread = threading.Thread(target=poll)
        thread.start()
        _until_waiting(port, 1)  # the request reached the server and waits: the change comes after
        committed = _commit_progress(video_pk, 1 + i % 98)
        thread.join()
        assert got["progress"] == 1 + i % 98, got  # woken by this change, not by the timeout
        latencies.append((float(got["at"]) - committed) * 1000)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(f"2. Wake-up latency (commit -> client has the answer), {WAKEUPS} wake-ups, one web process, Redis "
          f"pub/sub: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, max {latencies[-1]:.1f} ms (target p95 < 250 ms)\n")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


async def _hold(port: int, key: str, video_id: str, video_pk: int, worker: int) -> None:
    request = (f"GET /api/v3/videos/{video_id}?wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n"
               f"Connection: close\r\n\r\n").encode()

    async def one() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data

    before = _rss_kb(worker)
    tasks = []
    for _ in range(HELD):
        tasks.append(asyncio.ensure_future(one()))
        await asyncio.sleep(0.002)  # a steady arrival, not one SYN burst past the listen backlog
    await asyncio.get_running_loop().run_in_executor(None, _until_waiting, port, HELD)  # every one waiting
    held = _rss_kb(worker)
    done_early = sum(t.done() for t in tasks)
    started = time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(None, _commit_progress, video_pk, 77)
    answers = await asyncio.gather(*tasks)
    woken = time.perf_counter() - started
    ok = sum(b" 200 OK" in a.split(b"\r\n", 1)[0] and b'"progress": 77' in a for a in answers)
    print(f"3. {HELD} concurrent long-polls held by one uvicorn worker (WEB_CONCURRENCY=1): RSS {before / 1024:.0f} "
          f"MiB before, {held / 1024:.0f} MiB while holding them (+{(held - before) / HELD:.1f} KiB each); "
          f"{done_early} answered before the change; one change then answered {ok}/{HELD} with it, the last "
          f"{woken:.2f} s after the commit\n")


def main() -> None:
    env = _env()
    os.environ.update({k: v for k, v in env.items() if k != "PORT"})
    key, session_id, video_id, video_pk = _setup()
    one, five, _ = os.getloadavg()
    print(f"bench/long_poll.py: load average (1/5 min) {one:.1f} / {five:.1f} on {os.cpu_count()} cores; "
          f"PostgreSQL, Redis; {' '.join(Path(c).name for c in PRODUCTION)}\n")
    plain_requests(key, session_id)
    port = _port()
    server = _serve(PRODUCTION, port, WEB_CONCURRENCY="1")
    try:
        wakeups(port, key, video_id, video_pk)
        asyncio.run(_hold(port, key, video_id, video_pk, _worker_pid(server.pid)))
    finally:
        _stop(server)


if __name__ == "__main__":
    main()
