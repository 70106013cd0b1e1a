"""`make run`: migrate, make the demo account, then run web + worker (+ scheduler) in the foreground."""

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from dashboard.management.commands.demo import banner, demo_credentials


class Command(BaseCommand):
    help = ("Run the whole service on 127.0.0.1:PORT: gunicorn (uvicorn workers: long-polls and live streams wait "
            "without a thread each), a Celery worker with the beat scheduler, and the timed sessions' scheduler "
            "(ticksessions).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args: Any, port: int, host: str, concurrency: int, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        creds = demo_credentials()
        bin_dir = os.path.dirname(sys.executable)
        env = {**os.environ, "PORT": str(port), "WEB_THREADS": os.environ.get("WEB_THREADS", "4")}
        commands = [
            [os.path.join(bin_dir, "gunicorn"), "-c", str(settings.BASE_DIR / "dashboard" / "gunicorn.conf.py"),
             "dashboard.asgi:application", "--bind", f"{host}:{port}", "--workers", "2",
             "--log-level", "warning"],
            [os.path.join(bin_dir, "celery"), "-A", "dashboard", "worker", "--beat", "--loglevel", "INFO",
             "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
             "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
            # Timed sessions' scheduler, its own process: renders in the worker never hold a session back.
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "ticksessions"],
        ]
        children = [subprocess.Popen(cmd, env=env) for cmd in commands]
        self.stdout.write(banner(creds, port))
        self.stdout.write("  Press Ctrl+C to stop.\n")
        stop = False

        def _stop(*_: Any) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stop:
            raise SystemExit(1)
