"""`manage.py ticksessions`: the scheduler of timed sessions, a process of its own (started by `serve` and compose).

It claims due sessions from the database in batches and makes their videos (videos.services.schedule), so no
render, poll or broker delay can hold a session back. Run as many as you like: each batch is claimed with
SKIP LOCKED on PostgreSQL (serialised by SQLite's write lock on a local install). SIGTERM/SIGINT finish the batch
in hand, log the totals and exit; a SIGKILL mid-batch rolls the batch back for the next claimer.
"""

import json
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.heartbeat import Heartbeat
from videos.services.schedule import SchedulerStats, log, scheduler_run


class Command(BaseCommand):
    help = "Make timed sessions' videos when they are due: claims due sessions from the database in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=settings.SESSIONS_TICK_BATCH,
                            help="sessions claimed per transaction (default SESSIONS_TICK_BATCH)")
        parser.add_argument("--idle", type=float, default=1.0,
                            help="longest sleep, in seconds, when nothing is due")
        parser.add_argument("--partition", default="",
                            help="K/N: tick only sessions whose owner id is K modulo N (run N schedulers, K = 0..N-1, "
                                 "so that they never share an owner's credit account); default: every session")
        parser.add_argument("--report-every", type=float, default=60.0,
                            help="seconds between `sessions.scheduler` log lines with the counters")

    def handle(self, *args: Any, batch: int, idle: float, report_every: float, partition: str,
               **options: Any) -> None:
        part = None
        if partition:
            k, _, n = partition.partition("/")
            if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
                raise CommandError(f"--partition must be K/N with 0 <= K < N, got {partition!r}")
            part = (int(k), int(n))
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stats = SchedulerStats()
        log.info("sessions.scheduler.started", extra={"batch": batch})
        self.stdout.write(f"ticksessions: started, batches of {batch}", ending="\n")
        self.stdout.flush()
        beat = Heartbeat("scheduler", partition=part)  # /readyz, /metrics and `manage.py health scheduler` read it
        scheduler_run(stop=stop, batch=max(1, batch), idle=idle, stats=stats, report_every=report_every, partition=part,
                      heartbeat=beat)
        log.info("sessions.scheduler.stopped", extra=stats.fields())
        self.stdout.write(f"ticksessions: stopped {json.dumps(stats.fields())}")  # whatever LOG_LEVEL says
