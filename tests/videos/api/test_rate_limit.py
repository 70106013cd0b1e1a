"""The rate limit is atomic on every backend: many concurrent creations let exactly `limit` through.

A burst of concurrent POST /videos/generate from threads against a live server: on PostgreSQL + the Redis
cache (the suite's setup), and on the default setup (`manage.py serve`: SQLite, the file cache, gunicorn
with several processes), where a cache's add + incr used to let 92 of 120 through a limit of 60.
The window is a clock minute, so a burst may straddle two: the count is then checked window by window
against the limiter's own rows (min(hits, limit) per minute), which is exact either way.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from billing.models import RateCounter
from tests.factories import make_key, make_user
from videos.models import GenerationSession

ROOT = Path(__file__).resolve().parents[3]
BODY = {"prompt": "A cat playing with a ball of yarn", "model": "luma-ray-2.0-flash-5s-t2v", "width": 320,
        "height": 180}


def _burst(base: str, key: str, n: int) -> list[requests.Response]:
    def one(_: int) -> requests.Response:
        return requests.post(f"{base}/api/v3/videos/generate", json=BODY, headers={"X-API-Key": key}, timeout=300)

    with ThreadPoolExecutor(max_workers=24) as pool:
        return list(pool.map(one, range(n)))


def _check(responses: list[requests.Response], hits_by_minute: list[int], limit: int) -> None:
    codes = sorted({r.status_code for r in responses})
    assert set(codes) <= {201, 429}, [r.text for r in responses if r.status_code not in (201, 429)][:3]
    assert sum(hits_by_minute) == len(responses)
    accepted = sum(r.status_code == 201 for r in responses)
    assert accepted == sum(min(hits, limit) for hits in hits_by_minute)
    assert accepted >= limit
    for r in responses:
        if r.status_code == 429:
            body = r.json()
            assert body["success"] is False and body["error"]["code"] == "rate_limited"
            assert 1 <= int(r.headers["Retry-After"]) <= 60


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_on_postgres_and_redis_let_exactly_the_limit_through(live_server, settings) -> None:
    limit, n = 15, 45
    settings.RATE_LIMIT_PER_MINUTE = limit
    user = make_user("burst", credits=10_000)
    _, key = make_key(user)
    responses = _burst(live_server.url, key, n)
    hits = list(RateCounter.objects.filter(api_key__owner=user).values_list("hits", flat=True))
    _check(responses, hits, limit)
    assert GenerationSession.objects.filter(owner=user).count() == sum(r.status_code == 201 for r in responses)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.worker
def test_concurrent_creations_on_sqlite_and_the_file_cache_let_exactly_the_limit_through(tmp_path: Path) -> None:
    limit, n = 10, 40
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "MEDIA_ROOT"}}
    env.update(DATA_DIR=str(tmp_path / "data"), DEBUG="true", PORT=str(port), RATE_LIMIT_PER_MINUTE=str(limit))
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # generous: nothing here is timed
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if requests.get(f"{base}/api/v3/media-pricing/models", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        settings_cache = (tmp_path / "data" / "cache")
        creds: dict[str, Any] = json.loads((tmp_path / "data" / "demo-credentials.json").read_text())
        responses = _burst(base, creds["api_key"], n)
        with sqlite3.connect(tmp_path / "data" / "db.sqlite3") as db:
            hits = [row[0] for row in db.execute("SELECT hits FROM billing_ratecounter")]
            sessions = db.execute("SELECT count(*) FROM videos_generationsession").fetchone()[0]
        _check(responses, hits, limit)
        assert sessions == sum(r.status_code == 201 for r in responses)
        assert settings_cache.exists()  # the file cache is the one in use
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()
