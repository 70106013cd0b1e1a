"""Crash benchmark: N videos through real Celery workers that are SIGKILLed K times at random moments.

Half the videos render locally (a vendor model without credentials is simulated by the embedded renderer),
half go to a fake Luma on 127.0.0.1 (submit, several polls, download), so kills land mid-render, mid-submit,
mid-poll, mid-download and mid-store. After each kill (the worker and its pool children at once, SIGKILL) a
new worker starts at once. Then we wait until every video is final and count:

- completed: one charge, no refund, its file on disk, the only MP4 of that video in storage;
- refunded: failed with exactly one charge and one refund (codes reported, e.g. `interrupted`);
- lost: not final at --timeout, or charged and failed without a refund, or completed without its file;
- duplicate files: MP4s in storage beyond one per completed video (orphans of killed runs included);
- time from the last restart until every video was final, and the wall time against a no-kill run of the same
  videos in the same invocation (the baseline).

Needs PostgreSQL at postgres://postgres@127.0.0.1:5432 (database --db, created if missing, migrated here) and
Redis db --redis-db on 127.0.0.1:6379 (flushed at start: use a db of your own). Only 127.0.0.1 is contacted.

    .venv/bin/python bench/crash.py [--videos 20] [--kills 4] [--lease 90] [--sweep 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = "postgres://postgres@127.0.0.1:5432"
LOCAL_MODEL = "minimax-hailuo-02-6s-768p-t2v"  # no MiniMax key: rendered locally
VENDOR_MODEL = "luma-ray-2.0-flash-5s-t2v"  # the fake Luma


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=20)
    p.add_argument("--kills", type=int, default=4)
    p.add_argument("--lease", type=int, default=90, help="VIDEO_LEASE_SECONDS (the production default)")
    p.add_argument("--sweep", type=int, default=2, help="SWEEP_INTERVAL")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--vendor-share", type=float, default=0.5, help="fraction of videos sent to the fake Luma")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--db", default="life_crash_bench")
    p.add_argument("--redis-db", type=int, default=1)
    return p.parse_args()


def _ensure_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    args = _args()
    rng = random.Random(args.seed)
    data_dir = Path(tempfile.mkdtemp(prefix="crash-bench-"))
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    _ensure_database(args.db)

    from tests.fakevendors.luma import FakeLuma

    luma = FakeLuma().start()
    env = {
        **os.environ, "DATABASE_URL": f"{PG}/{args.db}", "CELERY_BROKER_URL": redis_url, "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret-key", "DEBUG": "false", "DATA_DIR": str(data_dir),
        "MEDIA_ROOT": str(data_dir / "media"), "PUBLIC_BASE_URL": "http://127.0.0.1:9", "LOG_LEVEL": "WARNING",
        "SWEEP_INTERVAL": str(args.sweep), "VIDEO_LEASE_SECONDS": str(args.lease),
        "LUMA_API_KEY": luma.api_key, "LUMA_BASE_URL": luma.base_url, "LUMA_POLL_INTERVAL": "0.5",
        "LUMA_MAX_CONCURRENT": "50", "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    import redis
    from django.utils import timezone

    from billing.models import CreditEntry
    from tests.e2e.workers import worker_kill, worker_start, worker_stop
    from tests.factories import make_session, make_user
    from videos.models import GenerationSession, Video
    from videos.providers.render import RenderSpec, render

    out = data_dir / "vendor.mp4"
    render(RenderSpec(prompt="vendor result", width=320, height=180, duration=1.0), video_path=str(out),
           thumbnail_path=str(data_dir / "t.jpg"), last_frame_path=str(data_dir / "l.png"))
    luma.video = out.read_bytes()
    luma.script = ["queued", "running:30", "running:60", "running:90", "succeeded"]
    vendor_count = round(args.videos * args.vendor_share)
    print(f"{args.videos} videos ({vendor_count} to the fake Luma, the rest rendered locally, 640x360), "
          f"lease {args.lease}s, sweep {args.sweep}s, worker concurrency {args.concurrency}")

    def one_round(kills: int) -> dict:
        redis.Redis.from_url(redis_url).flushdb()
        GenerationSession.objects.all().delete()
        CreditEntry.objects.filter(kind__in=["charge", "refund"]).delete()
        shutil.rmtree(data_dir / "media", ignore_errors=True)
        posted_before = len(luma.posted("/dream-machine/v1/generations/video"))
        user = make_user(f"crash{time.time_ns()}", credits=100 * args.videos)
        began = time.monotonic()
        for i in range(args.videos):
            model = VENDOR_MODEL if i < vendor_count else LOCAL_MODEL
            make_session(owner=user, model=model, prompt=f"A harbour at dusk, boat {i}", width=640, height=360)
        log = data_dir / "worker.log"
        worker = worker_start(env, log, concurrency=args.concurrency)
        started = time.monotonic()
        stages_at_kill: Counter = Counter()
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 6.0))
            held = Video.objects.filter(lease_until__gt=timezone.now())  # work in hand of the worker about to die
            stages_at_kill.update(held.filter(stage__in=["submitting", "rendering", "storing"])
                                  .values_list("stage", flat=True))
            stages_at_kill.update("polling" for _ in held.filter(stage="submitted"))
            worker_kill(worker)
            worker = worker_start(env, log, concurrency=args.concurrency)
        restarted = time.monotonic()
        try:
            while (Video.objects.exclude(status__in=Video.FINAL).exists()
                   and time.monotonic() - restarted < args.timeout):
                time.sleep(0.25)
            ended = time.monotonic()
        finally:
            worker_stop(worker)

        mp4s = Counter(p.name.split("-")[0] for p in (data_dir / "media").rglob("*.mp4"))
        outcome: Counter = Counter()
        for video in Video.objects.all():
            kinds = sorted(CreditEntry.objects.filter(video_id=video.public_id).values_list("kind", flat=True))
            has_file = bool(video.file) and (data_dir / "media" / video.file).exists()
            if video.status == "completed" and kinds == ["charge"] and has_file:
                outcome["completed"] += 1
            elif video.status == "failed" and kinds == ["charge", "refund"]:
                outcome["refunded"] += 1
                outcome[f"refunded:{video.error_code}"] += 1
            else:
                outcome["lost"] += 1
            if kinds.count("charge") > 1 or kinds.count("refund") > 1:
                outcome["charged or refunded twice"] += 1
        completed_ids = set(Video.objects.filter(status="completed").values_list("public_id", flat=True))
        return {
            "outcome": outcome, "stages": stages_at_kill, "total": ended - began, "work": ended - started,
            "recovered": ended - restarted, "kills": kills,
            "duplicates": sum(n - (1 if vid in completed_ids else 0) for vid, n in mp4s.items()),
            "jobs": len(luma.posted("/dream-machine/v1/generations/video")) - posted_before,
        }

    try:
        rounds = [one_round(0), one_round(args.kills)]
    finally:
        luma.stop()
    for r in rounds:
        o = r["outcome"]
        codes = {k.split(":", 1)[1]: v for k, v in o.items() if k.startswith("refunded:")}
        print(f"\n{r['kills']} SIGKILLs" + (f", landing on work in hand: {dict(r['stages'])}" if r["kills"] else
                                            " (baseline)"))
        print(f"  completed {o['completed']}, refunded {o['refunded']} {codes or ''}, lost {o['lost']}, "
              f"charged/refunded twice {o['charged or refunded twice']}, duplicate files {r['duplicates']}, "
              f"vendor jobs {r['jobs']} for {vendor_count} videos")
        print(f"  worker start to all terminal {r['work']:.1f}s" + (
            f"; last restart to all terminal {r['recovered']:.1f}s" if r["kills"] else ""))
    base, hit = rounds
    print(f"\nwall time with {args.kills} kills / without: {hit['work'] / base['work']:.2f}x (a killed worker's "
          f"leases end at the next sweep, every {args.sweep}s; the {args.lease}s lease is only the fallback)")


if __name__ == "__main__":
    main()
