"""Benchmark the hot path clients hit most: polling GET /api/v3/videos/sessions/{id}, answered 200 and 304.

Starts the web server the way production does (gunicorn with dashboard/gunicorn.conf.py: WEB_CONCURRENCY
workers × WEB_THREADS threads, JSON request logs, multiprocess metrics; PostgreSQL and the Redis cache) and
drives it with wrk (C, one thread, keep-alive; no Python client taking the server's cores), at 8 and 32
connections. In the same run, against the same server:
- a bare JSON view (bench/bare_urls.py: every middleware, nothing else: no database, cache or auth): the
  baseline every other figure is divided by;
- GET /healthz (the same, minus its log line: probes log at DEBUG), and GET /readyz?check=database (one
  `SELECT 1`, after Django's connection health check: what any round trip to PostgreSQL costs);
- the session poll with 1 and with 50 completed videos (signed file links), answered 200;
- the same polls sent with If-None-Match: the current ETag, answered 304 (no body). Both sessions are
  completed: their answers are settled, and the poll cache (dashboard.fastpoll) answers them from Redis;
- the 1-video poll on the poll cache's miss path: each request with a query parameter never seen before, so
  Django answers every one (and the layer stores each answer), as a poll right after a change is answered.
Endpoints run in turn, ROUNDS times; each figure is the median. Targets (issue 11): the 1-video poll at
≥ 0.5× the bare view, the 304 at ≥ 0.8×. Each row also gives the CPU time the gunicorn workers and the
PostgreSQL backends spent per request (Linux /proc), which other load on the machine disturbs far less than
requests/s does, and the Redis server's (INFO cpu: the whole server, so other clients of it count too).

    apt-get install -y wrk                        # Debian/Ubuntu; brew install wrk on macOS
    .venv/bin/python bench/api_poll.py            # PostgreSQL at 127.0.0.1:5432 (database `benchapi`), Redis
    BENCH_REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/api_poll.py --server wsgi --seconds 10

`--server asgi` (default, as production) runs gunicorn with uvicorn workers on dashboard.asgi; `--server wsgi`
runs gunicorn's former threaded workers on dashboard.wsgi (BENCH_SERVER sets the default too).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/benchapi")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WRK_INSTALL = "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)"
GUNICORN = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "dashboard" / "gunicorn.conf.py")]
SERVERS = {
    "asgi": [*GUNICORN, "dashboard.asgi:application"],  # production: uvicorn workers (gunicorn.conf.py)
    "wsgi": [*GUNICORN, "-k", "gthread", "dashboard.wsgi"],  # the former threaded workers, to compare
}
# wrk counts the answers whose status is not the one expected (a 304 case must get 304s, every other 200s).
STATUS_CHECK = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) expected = tonumber(args[1]); bad = 0 end
function response(status, headers, body) if status ~= expected then bad = bad + 1 end end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("UNEXPECTED %d\\n", total))
end
"""

SETUP = """
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from tests.factories import make_user, make_key, make_session
from videos.models import Video
from videos.services.work import video_start
User.objects.filter(username="bench").delete()
user = make_user("bench", credits=1000)
one = make_session(owner=user, model="luma-ray-2.0-flash-5s-t2v", width=320, height=180)
video_start(one.videos.get().pk)  # rendered and stored: the answer carries three signed links
done = Video.objects.get(pk=one.videos.get().pk)
fifty = make_session(owner=user, model="luma-ray-2.0-flash-5s-t2v", width=320, height=180)
first = fifty.videos.get()
Video.objects.filter(pk=first.pk).update(stage=done.stage, status=done.status, progress=100, file=done.file,
                                         thumbnail=done.thumbnail, last_frame=done.last_frame,
                                         file_size=done.file_size, completed_at=done.completed_at)
clones = []
for sequence in range(1, 50):
    clone = Video.objects.get(pk=first.pk)
    clone.pk = clone.id = None
    clone.public_id = first.public_id[:20] + f"{sequence:04d}"
    clone.sequence = sequence
    clones.append(clone)
Video.objects.bulk_create(clones)
from videos.services.sessions import session_finish_if_done
session_finish_if_done(fifty.pk)  # completed, as the one-video session: settled answers (the poll cache)
print(make_key(user)[1], one.public_id, fifty.public_id)
"""


# The miss path: each request names a query parameter never seen before (the view ignores it; the ETag and the
# poll cache's entry are per path and query), so the poll cache never has its entry and Django answers.
MISS = STATUS_CHECK + """
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, wrk.path .. "&miss=" .. n)
end
"""


def _setup(env: dict[str, str]) -> tuple[str, str, str]:
    """Create the database, migrate, and make a user, a key, a session with one completed video and one with
    fifty. Returns (key, session of 1, session of 50)."""
    import psycopg

    admin = DB.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB.rsplit("/", 1)[1],)).fetchone():
            conn.execute(f'CREATE DATABASE "{DB.rsplit("/", 1)[1]}"')
    out = subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"bench setup failed:\n{out.stderr[-3000:]}")
    key, one, fifty = out.stdout.split()[-3:]
    return key, one, fifty


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each of these processes so far (Linux /proc; none elsewhere)."""
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return times


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings by the processes alive at the second (a database connection
    opened in between counts from zero)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def _redis_cpu() -> float:
    """CPU seconds the Redis server has spent so far (INFO cpu: the whole server, other clients included)."""
    import redis

    info = redis.Redis.from_url(REDIS, socket_timeout=5).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _workers(server: subprocess.Popen[bytes]) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
    except OSError:
        return []


def _backends() -> list[int]:
    """PostgreSQL server processes serving the bench database (the web workers' connections)."""
    import psycopg

    with psycopg.connect(DB, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND pid <> pg_backend_pid()").fetchall()]


def _drive(url: str, headers: dict[str, str], *, connections: int, seconds: int, expect: int,
           script: str) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, requests) from one wrk run; fails on a socket error or any unexpected
    status."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", "-s", script]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url, "--", str(expect)], capture_output=True, text=True, check=True).stdout
    unexpected = re.search(r"^UNEXPECTED (\d+)$", out, re.M)
    if "Socket errors" in out or unexpected is None or int(unexpected.group(1)):
        raise SystemExit(f"wrk saw errors on {url} (expected only {expect}s):\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, _ms(out, "50%"), _ms(out, "99%"), count


def _ms(out: str, quantile: str) -> float:
    found = re.search(rf"^\s+{quantile}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    if found is None:
        raise SystemExit(f"no {quantile} latency in wrk's output:\n{out}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _wait_up(base: str, server: subprocess.Popen[bytes]) -> None:
    import requests

    deadline = time.monotonic() + 120  # gunicorn boots slowly on a loaded machine
    while True:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}) before answering")
        try:
            requests.get(f"{base}/healthz", timeout=5).raise_for_status()
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _etag(base: str, path: str, key: str) -> str:
    """The poll's current ETag, checked: the 200 carries it and a request naming it gets a bodiless 304."""
    import requests

    first = requests.get(base + path, headers={"X-API-Key": key}, timeout=30)
    first.raise_for_status()
    tag = first.headers["ETag"]
    again = requests.get(base + path, headers={"X-API-Key": key, "If-None-Match": tag}, timeout=30)
    if again.status_code != 304 or again.content:
        raise SystemExit(f"{path}: If-None-Match {tag} answered {again.status_code}, not a bodiless 304")
    return tag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=sorted(SERVERS), default=os.environ.get("BENCH_SERVER", "asgi"))
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="each figure is the median of this many runs")
    parser.add_argument("--connections", default="8,32", help="comma-separated wrk connection counts")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(f"bench/api_poll.py skipped: {WRK_INSTALL}")
        return
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_timeout=5).ping()
    except Exception as e:  # production caches in Redis: the figures mean nothing without it
        print(f"bench/api_poll.py skipped: no Redis at {REDIS} ({type(e).__name__}); set BENCH_REDIS_URL")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = Path(tempfile.mkdtemp(prefix="bench-api-"))
    env = {**os.environ, "DATABASE_URL": DB, "REDIS_URL": REDIS, "SECRET_KEY": "bench", "DEBUG": "false",
           "DATA_DIR": str(data), "MEDIA_ROOT": str(data / "media"), "RATE_LIMIT_PER_MINUTE": "0",
           "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "bench.bare_settings", "ENV_FILE": "none",
           "HOST": "127.0.0.1", "PORT": str(port), "LOG_FORMAT": "json", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    env.setdefault("CELERY_BROKER_URL", REDIS)
    key, one, fifty = _setup(env)
    workers, threads = env.get("WEB_CONCURRENCY", "3"), env.get("WEB_THREADS", "4")
    log = open(data / "server.log", "wb")  # noqa: SIM115 - open for the server's whole life
    server = subprocess.Popen(SERVERS[args.server], cwd=ROOT, env=env, stdout=log, stderr=log)
    script, miss = data / "status.lua", data / "miss.lua"
    script.write_text(STATUS_CHECK)
    miss.write_text(MISS)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_up(base, server)
        poll1 = f"/api/v3/videos/sessions/{one}?page=1&page_size=50"
        poll50 = f"/api/v3/videos/sessions/{fifty}?page=1&page_size=50"
        auth = {"X-API-Key": key}
        cases = (
            ("bare JSON view (baseline: no DB, no auth)", "/bench/bare", {}, 200),
            ("GET /healthz", "/healthz", {}, 200),
            ("GET /readyz?check=database (SELECT 1)", "/readyz?check=database", {}, 200),
            ("session poll, 1 video", poll1, auth, 200),
            ("session poll, 50 videos", poll50, auth, 200),
            ("session poll, 1 video, 304", poll1, {**auth, "If-None-Match": _etag(base, poll1, key)}, 304),
            ("session poll, 50 videos, 304", poll50, {**auth, "If-None-Match": _etag(base, poll50, key)}, 304),
            ("session poll, 1 video, cache miss (Django)", poll1, auth, 200),
        )
        conns = [int(c) for c in args.connections.split(",")]
        before = os.getloadavg()
        runs: dict[tuple[str, int], list[tuple[float, ...]]] = {}
        for _ in range(args.rounds):
            for c in conns:
                for name, path, headers, expect in cases:
                    web0, db0, redis0 = _cpu_seconds(_workers(server)), _cpu_seconds(_backends()), _redis_cpu()
                    rps, p50, p99, count = _drive(base + path, headers, connections=c, seconds=args.seconds,
                                                  expect=expect, script=str(miss if "miss" in name else script))
                    web = _spent(web0, _cpu_seconds(_workers(server)))
                    db = _spent(db0, _cpu_seconds(_backends()))
                    cache = _redis_cpu() - redis0
                    runs.setdefault((name, c), []).append((rps, p50, p99, web * 1000 / count, db * 1000 / count,
                                                           cache * 1000 / count))
        after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    medians = {k: tuple(statistics.median(r[i] for r in rs) for i in range(6)) for k, rs in runs.items()}
    print(f"{args.server}: gunicorn -c dashboard/gunicorn.conf.py, {workers} workers × {threads} threads"
          f"{' (uvicorn workers)' if args.server == 'asgi' else ''}, PostgreSQL, Redis cache, JSON request logs; "
          f"wrk -t1 -d{args.seconds}s, endpoints in turn, median of {args.rounds}; load average (1 min) "
          f"{before[0]:.1f} before, {after[0]:.1f} after, on {os.cpu_count()} cores\n")
    print("| endpoint | connections | requests/s | p50 ms | p99 ms | × bare view | CPU ms/request: web | database "
          "| Redis |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in conns:
        baseline = medians[(cases[0][0], c)][0]
        for name, *_ in cases:
            rps, p50, p99, web, db, cache = medians[(name, c)]
            print(f"| {name} | {c} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {rps / baseline:.2f} | {web:.2f} | "
                  f"{db:.2f} | {cache:.2f} |")
    print()
    for label, name, target in (("session poll (1 video) ≥ 0.5×", cases[3][0], 0.5),
                                ("304 (1 video) ≥ 0.8×", cases[5][0], 0.8)):
        ratios = [medians[(name, c)][0] / medians[(cases[0][0], c)][0] for c in conns]
        print(f"target {label}: " + ", ".join(f"{r:.2f} at {c}" for r, c in zip(ratios, conns, strict=True))
              + (" — met" if all(r >= target for r in ratios) else " — NOT met"))


if __name__ == "__main__":
    main()
