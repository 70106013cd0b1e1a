"""Benchmark the hot path clients hit most: polling GET /api/v3/videos/sessions/{id}.

Starts gunicorn (2 workers × 4 threads, as `make run` does) on PostgreSQL with a session holding one
completed video, then drives it from 8 client threads for a fixed time. The baseline, measured in the same
run against the same server, is GET /healthz (one `SELECT 1`, no auth): the ratio says what authentication,
the scoped queries and the serialisation cost on top of a round trip.

    .venv/bin/python bench/api_poll.py            # PostgreSQL at 127.0.0.1:5432, database `benchapi`
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/benchapi")
SECONDS, THREADS = 8.0, 8


def _setup(env: dict[str, str]) -> tuple[str, str]:
    """Create the database, migrate, and make a user, key and one completed video. Returns (key, session id)."""
    import psycopg

    admin = DB.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB.rsplit("/", 1)[1],)).fetchone():
            conn.execute(f'CREATE DATABASE "{DB.rsplit("/", 1)[1]}"')
    code = """
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.factories import make_user, make_key, make_session
from django.contrib.auth.models import User
User.objects.filter(username="bench").delete()
user = make_user("bench", credits=100)
session = make_session(owner=user, model="luma-ray-2.0-flash-5s-t2v", width=320, height=180)
from videos.services import video_start
video_start(session.videos.get().pk)
print(make_key(user)[1], session.public_id)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    key, session_id = out.stdout.split()[-2:]
    return key, session_id


def _drive(url: str, headers: dict[str, str]) -> tuple[float, list[float]]:
    import requests

    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def worker() -> None:
        http = requests.Session()
        mine = []
        while time.monotonic() < stop:
            t = time.perf_counter()
            r = http.get(url, headers=headers, timeout=10)
            assert r.status_code == 200, r.text[:200]
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.monotonic() - start), latencies


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": DB, "SECRET_KEY": "bench", "DEBUG": "false", "DATA_DIR": "/tmp/bench-api",
           "MEDIA_ROOT": "/tmp/bench-api/media", "RATE_LIMIT_PER_MINUTE": "0", "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    env.pop("REDIS_URL", None)
    key, session_id = _setup(env)
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "dashboard.wsgi", "--bind",
                               f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--log-level", "warning"],
                              cwd=ROOT, env=env)
    try:
        import requests

        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        rows = []
        for name, path, headers in (
            ("GET /healthz (baseline)", "/healthz", {}),
            ("GET /api/v3/videos/sessions/{id}", f"/api/v3/videos/sessions/{session_id}?page=1&page_size=50",
             {"X-API-Key": key}),
            ("GET /api/v3/credits", "/api/v3/credits", {"X-API-Key": key}),
        ):
            rps, lat = _drive(base + path, headers)
            q = statistics.quantiles(lat, n=100)
            rows.append((name, rps, q[49] * 1000, q[98] * 1000))
        baseline = rows[0][1]
        print(f"{THREADS} client threads × {SECONDS:.0f} s each, gunicorn 2 workers × 4 threads, PostgreSQL\n")
        print("| endpoint | requests/s | p50 ms | p99 ms | vs baseline |")
        print("|---|---|---|---|---|")
        for name, rps, p50, p99 in rows:
            print(f"| {name} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {rps / baseline:.2f} |")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
