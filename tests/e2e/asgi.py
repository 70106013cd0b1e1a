"""The production web server (`gunicorn -c dashboard/gunicorn.conf.py dashboard.asgi:application`, uvicorn
workers) as a subprocess on the test database, plus a real Celery worker publishing to the same change channel:
long-polls and live streams are only served there (pytest-django's live server is a WSGI server)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.e2e.workers import ROOT, worker_environ, worker_start, worker_stop


@dataclass
class Stack:
    url: str
    channel: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_start(env: dict[str, str], log_path: Path, port: int) -> subprocess.Popen:
    log = open(log_path, "ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "dashboard/gunicorn.conf.py", "dashboard.asgi:application"],
        cwd=ROOT, env={**env, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "WEB_THREADS": "4"},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while True:
        assert server.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, "the ASGI server did not start: " + log_path.read_text()[-3000:]
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)


def server_stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


@contextmanager
def live_stack(*, database: dict[str, Any], media_root: str, tmp_path: Path, secret_key: str, redis: bool = True,
               ) -> Iterator[Stack]:
    """The ASGI server and a worker sharing the test database, media and a change channel of their own (pub/sub
    channels are global to the Redis server: parallel runs must not hear each other). `redis=False`: the
    default setup's polling re-check instead of pub/sub."""
    from dashboard.celery import app

    app.control.purge()  # stale messages from earlier runs
    channel = f"test-live:{uuid.uuid4().hex}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = worker_environ(database=database, media_root=media_root, data_dir=str(tmp_path / "data"),
                         public_base_url=url, secret_key=secret_key, LIVE_CHANNEL=channel,
                         ALLOWED_HOSTS="127.0.0.1,localhost", ENV_FILE="none", RATE_LIMIT_PER_MINUTE="0",
                         **({} if redis else {"LIVE_REDIS_URL": ""}))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = server_start(env, tmp_path / "server.log", port)
    try:
        worker = worker_start(env, tmp_path / "worker.log")
        try:
            yield Stack(url=url, channel=channel)
        finally:
            worker_stop(worker)
    finally:
        server_stop(server)
