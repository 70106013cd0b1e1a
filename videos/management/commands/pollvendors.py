"""`manage.py pollvendors`: the vendor poller process (services.poller) until SIGTERM/SIGINT.

Every `celery worker` starts one beside it (videos.pollerd); several at once, on one host or many, are safe.
"""

import logging
import os
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connection

from videos.services.poller import Poller

log = logging.getLogger("videos.poller")


class Command(BaseCommand):
    help = "Poll every vendor job that is due, in batches, until stopped (SIGTERM, Ctrl+C)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--parent", type=int, default=0,
                            help="stop when this process (the worker that started us) is gone")

    def handle(self, *args: Any, parent: int, **options: Any) -> None:
        stop = threading.Event()

        def _stop(*_: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        if parent:
            threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True).start()
        poller = Poller(heartbeat=True)  # /readyz, /metrics and `manage.py health poller` read it
        self.stdout.write(f"vendor poller {poller.owner} started")
        self.stdout.flush()
        try:
            while not stop.is_set():
                try:
                    poller.run(stop, until=None)
                except DatabaseError:  # the database restarted or went away: reconnect, go on
                    log.exception("vendor poller: database error; retrying in 2 s")
                    connection.close()
                    poller.failures += 1
                    poller.beat()
                    stop.wait(2)
        finally:
            poller.close()
            poller.beat(stopped=True)
            self.stdout.write(f"vendor poller {poller.owner} stopped after {poller.polls} polls")
            self.stdout.flush()


def _watch_parent(pid: int, stop: threading.Event) -> None:
    """The worker that started us was killed (no shutdown signal reached us): stop too."""
    while not stop.wait(1.0):
        if os.getppid() != pid:
            stop.set()
