"""A real Celery worker process sharing the test database, the broker and the media folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.e2e.workers import scheduler_start, worker_stop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Extra environment for the worker process (a vendor's key and fake base URL…): override in a test module."""
    return {}


@pytest.fixture
def worker_concurrency() -> int:
    """The worker's --concurrency: override in a test module."""
    return 2


@pytest.fixture
def celery_worker_process(transactional_db: None, live_server: Any, settings: Any, tmp_path: Path,
                          worker_env: dict[str, str], worker_concurrency: int) -> Iterator[str]:
    """Start `celery worker --beat` and the sessions scheduler (as `serve` does) against the test DB; yields the
    live server's URL."""
    if connection.vendor != "postgresql" or django_settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("the worker test needs PostgreSQL and a broker server (make test sets both)")
    from dashboard.celery import app

    app.control.purge()  # stale messages from earlier runs
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DATA_DIR": str(tmp_path / "data"),
        "PUBLIC_BASE_URL": live_server.url,
        "SWEEP_INTERVAL": "2",
        "SECRET_KEY": django_settings.SECRET_KEY,
        **worker_env,
    }
    settings.PUBLIC_BASE_URL = live_server.url
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--beat", "--loglevel", "INFO",
         "--concurrency", str(worker_concurrency), "--without-gossip", "--without-mingle",
         "--schedule", str(tmp_path / "beat")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    scheduler = None
    try:
        deadline = time.monotonic() + 30
        while b"ready." not in (tmp_path / "worker.log").read_bytes():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.2)
        scheduler = scheduler_start(env, tmp_path / "scheduler.log")
        yield live_server.url
    finally:
        if scheduler is not None:
            worker_stop(scheduler)
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
