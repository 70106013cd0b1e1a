"""Benchmark the hot path clients hit most: polling GET /api/v3/videos/sessions/{id}.

Starts gunicorn (2 workers × 4 threads, as `make run` does) on PostgreSQL with a session holding one
completed video, then drives it with wrk (C, one thread, 8 connections kept alive: no Python client taking
the server's cores). Baselines, in the same run against the same server: GET /healthz, a bare JSON view
(no database, no auth), and GET /readyz?check=database (one `SELECT 1`): the ratios say what
authentication, the scoped queries and the serialisation cost on top of a round trip. Endpoints are run in
turn, ROUNDS times, and each figure is the median.

    apt-get install -y wrk                         # Debian/Ubuntu; brew install wrk on macOS
    .venv/bin/python bench/api_poll.py             # PostgreSQL at 127.0.0.1:5432, database `benchapi`
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/benchapi")
SECONDS, CONNECTIONS, ROUNDS = 5, 8, 3
WRK_INSTALL = "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)"


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


def _drive(url: str, headers: dict[str, str]) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from one wrk run; fails on any non-2xx answer or socket error."""
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors on {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, _ms(out, "50%"), _ms(out, "99%")


def _ms(out: str, quantile: str) -> float:
    value, unit = re.search(rf"^\s+{quantile}\s+([\d.]+)(us|ms|s)$", out, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    if shutil.which("wrk") is None:
        print(f"bench/api_poll.py skipped: {WRK_INSTALL}")
        return
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
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import requests

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # gunicorn boots slowly on a loaded machine
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=5).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        cases = (
            ("GET /healthz (baseline: bare JSON, no DB)", "/healthz", {}),
            ("GET /readyz?check=database (one SELECT 1)", "/readyz?check=database", {}),
            ("GET /api/v3/videos/sessions/{id}", f"/api/v3/videos/sessions/{session_id}?page=1&page_size=50",
             {"X-API-Key": key}),
            ("GET /api/v3/credits", "/api/v3/credits", {"X-API-Key": key}),
        )
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _, _ in cases}
        for _ in range(ROUNDS):
            for name, path, headers in cases:
                runs[name].append(_drive(base + path, headers))
        medians = {name: tuple(statistics.median(r[i] for r in rs) for i in range(3)) for name, rs in runs.items()}
        baseline = medians[cases[0][0]][0]
        one, five, _ = os.getloadavg()
        print(f"wrk -t1 -c{CONNECTIONS} -d{SECONDS}s per run, endpoints in turn, median of {ROUNDS}; "
              f"gunicorn 2 workers × 4 threads, PostgreSQL, "
              f"request logging as in production (to /dev/null); load average (1/5 min) {one:.1f} / {five:.1f} "
              f"on {os.cpu_count()} cores\n")
        print("| endpoint | requests/s | p50 ms | p99 ms | vs baseline |")
        print("|---|---|---|---|---|")
        for name, (rps, p50, p99) in medians.items():
            print(f"| {name} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {rps / baseline:.2f} |")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
