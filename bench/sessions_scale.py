"""Session-scale benchmark: N live timed sessions, each due every --interval seconds, on PostgreSQL + Redis with a
real Celery worker and the sessions scheduler (`manage.py ticksessions`, --schedulers of them), for --seconds.

Every session's video goes to a fake Luma on 127.0.0.1 that never finishes a job (`--mode vendor`, the default):
the worker runs the start task of every video made (the vendor cap, LUMA_MAX_CONCURRENT=5, keeps the rest queued)
and beat's sweeps. `--mode ticks`: the worker consumes only the `sessions` queue, so no start task runs and only
the scheduling is measured. The sessions are created first (through the services, charged, as the API does),
then their first due times are spread evenly over one interval starting a few seconds after the scheduler
starts (users create sessions at any moment; `--burst` makes them all due at the same instant instead).

Reported, over the slots due in the window (session s's n-th video is due at first_due(s) + (n-1) x interval):
- lateness of video creation: `created_at` - due time, p50 / p95 / max; a slot with no video by the end counts
  as missed (and no slot is skipped by a scheduler that keeps up);
- tick runs per needed tick: sessions the schedulers claimed / slots due in the window;
- CPU seconds (utime + stime from /proc, pool children included) of the worker, of the scheduler(s) and of the
  PostgreSQL backends serving the bench database, per wall second and per tick;
- database queries per tick: the schedulers' own statements (counted in-process) / sessions claimed, and every
  transaction the database committed (pg_stat_database, all clients) / slots due.

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_sessions; created if
missing, migrated, its sessions DELETED) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/2: broker and
cache, FLUSHED). Only 127.0.0.1 is contacted.

    .venv/bin/python bench/sessions_scale.py [--sessions 1000] [--interval 10] [--seconds 60] [--schedulers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from statistics import quantiles
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_sessions")
PG, _, DB_NAME = DATABASE_URL.rpartition("/")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
MODEL = "luma-ray-2.0-flash-5s-t2v"  # 20 credits a video


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--interval", type=int, default=10, help="interval_seconds of every session (10 is the minimum)")
    p.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    p.add_argument("--users", type=int, default=100, help="owners the sessions are spread over")
    p.add_argument("--schedulers", type=int, default=1, help="ticksessions processes")
    p.add_argument("--batch", type=int, default=None, help="SESSIONS_TICK_BATCH (default: the setting's)")
    p.add_argument("--concurrency", type=int, default=2, help="worker processes (celery --concurrency)")
    p.add_argument("--mode", choices=("vendor", "ticks"), default="vendor")
    p.add_argument("--burst", action="store_true", help="every session due at the same instant")
    p.add_argument("--sweep-interval", type=int, default=15, help="SWEEP_INTERVAL (the production default)")
    p.add_argument("--scaling", default="", help="instead of the window: counts of schedulers, e.g. 1,2,1,2,1,2; "
                   "each round makes every session due at once and times how long those schedulers take to tick "
                   "them all (no worker runs)")
    p.add_argument("--partitioned", action="store_true",
                   help="with --scaling: K schedulers get --partition 0/K .. K-1/K (owners split between them)")
    return p.parse_args()


def _ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of `pid` and its live descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(cpu.get(p, 0.0) for p in tree)


class _BackendCpu(threading.Thread):
    """CPU seconds of the PostgreSQL backends serving the bench database (other databases on the server are other
    people's): each backend's /proc counters, sampled every 0.5 s, so backends that come and go are counted too."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, tuple[float, float]] = {}  # pid -> (first sample, last sample)
        self.halt = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            while not self.halt.is_set():
                pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB_NAME,))]
                for pid in pids:
                    cpu = _own_cpu(pid)
                    if cpu is not None:
                        first = self.seen.get(pid, (cpu, cpu))[0]
                        self.seen[pid] = (first, cpu)
                self.halt.wait(0.5)

    def total(self) -> float:
        return sum(last - first for first, last in self.seen.values())


def _own_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _commits() -> int:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (DB_NAME,)).fetchone()
        return int(row[0])


def _pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    args = _args()
    data_dir = Path(tempfile.mkdtemp(prefix="sessions-bench-"))
    _ensure_database()
    from tests.fakevendors.luma import FakeLuma

    luma = FakeLuma().start()
    luma.script = ["queued"]  # never finishes: the bench is about sessions, not videos
    env = {
        **os.environ, "DATABASE_URL": f"{PG}/{DB_NAME}", "CELERY_BROKER_URL": REDIS, "REDIS_URL": REDIS,
        "SECRET_KEY": "bench-secret-key", "DEBUG": "false", "DATA_DIR": str(data_dir),
        "MEDIA_ROOT": str(data_dir / "media"), "PUBLIC_BASE_URL": "http://127.0.0.1:9", "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json", "SWEEP_INTERVAL": str(args.sweep_interval), "LUMA_API_KEY": luma.api_key,
        "LUMA_BASE_URL": luma.base_url, "LUMA_MAX_CONCURRENT": "5", "LUMA_POLL_INTERVAL": "5",
        "RATE_LIMIT_PER_MINUTE": "0", "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        **({"SESSIONS_TICK_BATCH": str(args.batch)} if args.batch else {}),
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    import redis
    from django.contrib.auth.models import User
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from billing.models import CreditEntry
    from tests.e2e.workers import scheduler_start, worker_start, worker_stop
    from tests.factories import make_session, make_user
    from videos.models import GenerationSession, Video

    redis.Redis.from_url(REDIS).flushdb()
    GenerationSession.objects.all().delete()
    CreditEntry.objects.filter(kind__in=["charge", "refund"]).delete()
    User.objects.filter(username__startswith="scale").delete()
    slots_each = int(args.seconds // args.interval) + 2
    users = [make_user(f"scale{i}", credits=40 * slots_each * (args.sessions // args.users + 1))
             for i in range(args.users)]
    began = time.monotonic()
    pks: list[int] = []
    for i in range(args.sessions):
        pks.append(make_session(owner=users[i % args.users], model=MODEL, timed=True, prompt=f"session {i}",
                                max_videos=100, interval_seconds=args.interval, duration_minutes=600,
                                width=256, height=144).pk)
        if (i + 1) % 1000 == 0:
            print(f"  created {i + 1} sessions ({time.monotonic() - began:.0f} s)", flush=True)
    print(f"{args.sessions} sessions created in {time.monotonic() - began:.1f} s; mode {args.mode}, interval "
          f"{args.interval} s, window {args.seconds:.0f} s, {args.schedulers} scheduler(s), worker concurrency "
          f"{args.concurrency}, {args.users} owners", flush=True)
    redis.Redis.from_url(REDIS).flushdb()  # the first videos' start messages: not part of the measurement
    if args.scaling:
        return _scaling(args, env, data_dir, pks)

    GenerationSession.objects.filter(pk__in=pks).update(next_run_at=timezone.now() + timedelta(hours=1))
    worker_log = data_dir / "worker.log"
    queues = ["-Q", "sessions"] if args.mode == "ticks" else []
    worker = _worker(worker_start, env, worker_log, args.concurrency, queues)
    # Schedulers first (they idle: nothing is due for an hour), then the grid: the first due times spread over one
    # interval from 2 s from now, so a slow start of the processes is not counted as lateness.
    schedulers = [scheduler_start(env, data_dir / f"sched{i}.log", "--report-every", "3600")
                  for i in range(args.schedulers)]
    t0 = timezone.now() + timedelta(seconds=2)
    first_due: dict[int, Any] = {}
    for i, pk in enumerate(pks):
        first_due[pk] = t0 if args.burst else t0 + timedelta(seconds=args.interval * i / len(pks))
    _set_due(GenerationSession, first_due)
    end = t0 + timedelta(seconds=args.seconds)
    cpu0 = (_cpu(worker.pid), sum(_cpu(s.pid) for s in schedulers))
    commits0, wall0 = _commits(), time.monotonic()
    database = _BackendCpu()
    database.start()
    time.sleep(max(0.0, (end - timezone.now()).total_seconds()) + 2.0)  # the last slots' videos, if late
    cpu1 = (_cpu(worker.pid), sum(_cpu(s.pid) for s in schedulers))
    commits1, wall = _commits(), time.monotonic() - wall0
    database.halt.set()
    for s in schedulers:
        s.send_signal(signal.SIGTERM)
    for s in schedulers:
        s.wait(60)
    worker_stop(worker)
    luma.stop()

    stats = [_stopped(data_dir / f"sched{i}.log") for i in range(args.schedulers)]
    late: list[float] = []
    needed = missed = 0
    first: list[float] = []  # the first slots' lateness
    made = {(v["session_id"], v["sequence"]): v["created_at"] for v in
            Video.objects.filter(session_id__in=pks, sequence__gte=1).values("session_id", "sequence", "created_at")}
    for pk, due0 in first_due.items():
        n = 1
        while (due := due0 + timedelta(seconds=args.interval * (n - 1))) < end:
            needed += 1
            if (created := made.get((pk, n))) is None:
                missed += 1
            else:
                late.append((created - due).total_seconds())
                if n == 1:
                    first.append(late[-1])
            n += 1
    # The fallback sweep on the worker (sessions more than SWEEP_INTERVAL overdue) runs the same batches: count them.
    swept = sum(int(m.group(1)) for m in re.finditer(r"sessions_tick_due_task\[[^]]*\] succeeded in [0-9.e-]+s: (\d+)",
                                                   worker_log.read_text(errors="replace")))
    claimed = sum(s.get("claimed", 0) for s in stats) + swept
    # Every claim of a due session should do one thing: make its video, or end it (max_videos, ends_at, budget,
    # credits). Claims beyond those are wasted tick runs (the old countdown chains ran 1.25-1.6 per slot).
    useful = (Video.objects.filter(session_id__in=pks, sequence__gte=1).count()
              + GenerationSession.objects.filter(pk__in=pks, next_run_at__isnull=True).count())
    queries = sum(s.get("queries", 0) for s in stats)
    batches = sum(s.get("batches", 0) for s in stats)
    loops = sum(s.get("loops", 0) for s in stats)
    charges = CreditEntry.objects.filter(kind="charge", session_id__in=GenerationSession.objects.filter(
        pk__in=pks).values("public_id"))
    twice = charges.values("video_id").order_by().annotate(n=Count("id")).filter(n__gt=1).count()
    videos = Video.objects.filter(session_id__in=pks).count()
    print(f"slots due in the window: {needed}; videos made for them: {needed - missed}; missed: {missed}; "
          f"videos charged twice: {twice}; charges {charges.count()} for {videos} videos")
    print(f"lateness of video creation (s): p50 {_pct(late, 50):.3f}  p95 {_pct(late, 95):.3f}  "
          f"max {max(late) if late else float('nan'):.3f}")
    if args.burst and late and missed:
        print(f"burst: NOT drained: {missed} of {needed} slots still without a video at the end of the window")
    elif args.burst and late:  # every first slot due at t0: the last one's lateness is the time to drain them all
        print(f"burst: {len(first)} sessions due at once drained in {max(first):.2f} s = "
              f"{len(first) / max(first):.0f} ticks/s")
    print(f"tick runs per needed tick: {claimed / max(useful, 1):.3f} ({claimed} sessions claimed, {swept} of them by "
          f"the worker's fallback sweep; the schedulers' in {batches} "
          f"batches, {(claimed - swept) / max(batches, 1):.1f} per batch, for {useful} slots that made a video or ended a "
          f"session in the database, the window's and those of the seconds before the schedulers stopped; "
          f"slots skipped: "
          f"{sum(s.get('slots_skipped', 0) for s in stats)})")
    print(f"CPU per wall second: worker {(cpu1[0] - cpu0[0]) / wall:.3f}, scheduler(s) {(cpu1[1] - cpu0[1]) / wall:.3f}"
          f", database backends {database.total() / wall:.3f} ({wall:.0f} s window; worker {cpu1[0] - cpu0[0]:.1f} s, "
          f"scheduler {cpu1[1] - cpu0[1]:.1f} s, database {database.total():.1f} s CPU)")
    print(f"CPU per tick (ms): scheduler {1000 * (cpu1[1] - cpu0[1]) / max(claimed, 1):.2f}, database backends "
          f"{1000 * database.total() / max(claimed, 1):.2f} (all of the bench database's clients), worker "
          f"{1000 * (cpu1[0] - cpu0[0]) / max(claimed, 1):.2f}")
    print(f"database queries per tick: scheduler {queries / max(claimed, 1):.2f} ({queries} statements, "
          f"{queries / max(loops, 1):.1f} per scheduler loop, {loops} loops: claim, batch writes, next-due read); "
          f"all clients "
          f"{(commits1 - commits0) / max(needed, 1):.2f} commits per slot")
    connection.close()


def _scaling(args: argparse.Namespace, env: dict[str, str], data_dir: Path, pks: list[int]) -> None:
    """Drain rounds: all sessions due at the same instant, ticked by K schedulers; medians per K."""
    from django.db.models import Max
    from django.utils import timezone

    from tests.e2e.workers import scheduler_start, worker_stop
    from videos.models import GenerationSession, Video

    rates: dict[int, list[float]] = {}
    for n, k in enumerate(int(x) for x in args.scaling.split(",")):
        GenerationSession.objects.filter(pk__in=pks).update(next_run_at=timezone.now() + timedelta(hours=1))
        schedulers = [scheduler_start(env, data_dir / f"scaling{n}-{i}.log", "--report-every", "3600",
                                      *(["--partition", f"{i}/{k}"] if args.partitioned and k > 1 else []))
                      for i in range(k)]
        t0 = timezone.now() + timedelta(seconds=1)
        GenerationSession.objects.filter(pk__in=pks).update(next_run_at=t0)
        cpu0 = sum(_cpu(s.pid) for s in schedulers)
        deadline = time.monotonic() + 600
        while GenerationSession.objects.filter(pk__in=pks, next_run_at__lte=t0).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("not drained in 600 s")
            time.sleep(0.1)
        cpu = sum(_cpu(s.pid) for s in schedulers) - cpu0
        for scheduler in schedulers:
            worker_stop(scheduler)
        totals = [_stopped(data_dir / f"scaling{n}-{i}.log") for i in range(k)]
        in_batches = sum(t["batch_seconds"] for t in totals)
        locked = sum(t["accounts_locked_seconds"] for t in totals)
        last = Video.objects.filter(session_id__in=pks, created_at__gte=t0).aggregate(Max("created_at"))
        seconds = (last["created_at__max"] - t0).total_seconds()
        rates.setdefault(k, []).append(len(pks) / seconds)
        print(f"  round {n + 1}: {k} scheduler(s) ticked {len(pks)} sessions due at once in {seconds:.2f} s = "
              f"{len(pks) / seconds:.0f} ticks/s ({1000 * cpu / len(pks):.2f} ms scheduler CPU a tick; owners' "
              f"accounts locked {100 * locked / max(in_batches, 1e-9):.0f} % of the batches' time); "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    for k, values in sorted(rates.items()):
        print(f"{k} scheduler(s): median {sorted(values)[len(values) // 2]:.0f} ticks/s over {len(values)} rounds "
              f"({', '.join(f'{v:.0f}' for v in values)})")


def _worker(start: Any, env: dict[str, str], log: Path, concurrency: int, queues: list[str]) -> subprocess.Popen:
    if not queues:
        return start(env, log, concurrency=concurrency)
    # ticks mode: the same worker, consuming only the sessions queue (no start task runs)
    with open(log, "ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--beat", "--loglevel", "INFO",
             "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--schedule",
             str(log.with_suffix(".beat")), *queues], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.2)
    return worker


def _set_due(model: Any, first_due: dict[int, Any]) -> None:
    from django.db.models import Case, When

    items = list(first_due.items())
    for i in range(0, len(items), 1000):
        chunk = items[i:i + 1000]
        model.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            next_run_at=Case(*[When(pk=pk, then=due) for pk, due in chunk]))


def _stopped(log: Path) -> dict[str, Any]:
    """The totals a scheduler logged when it stopped."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("ticksessions: stopped "):
            return json.loads(line.removeprefix("ticksessions: stopped "))
    raise RuntimeError(f"no totals in {log}: {log.read_text(errors='replace')[-2000:]}")


if __name__ == "__main__":
    main()
