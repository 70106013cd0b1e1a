"""Creating sessions from several clients while a real worker ticks other sessions, on PostgreSQL: zero
deadlocks, zero 5xx. (Ticks used to lock the session's owner and model rows too: session creation, which
references both, deadlocked with them; 118 of 200 creations answered 500.)"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from billing.models import CreditEntry
from tests.e2e.workers import worker_environ, worker_start, worker_stop
from tests.factories import make_key, make_session, make_user
from tests.fakevendors import running
from tests.fakevendors.luma import FakeLuma
from videos.models import GenerationSession

pytestmark = pytest.mark.worker
CLIENTS, REQUESTS_EACH, TICKED = 8, 20, 12


def test_sessions_created_while_others_tick_never_deadlock_or_fail(transactional_db: None, live_server: Any,
                                                                   settings: Any, tmp_path: Path) -> None:
    if connection.vendor != "postgresql" or django_settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("needs PostgreSQL and a broker server (make test sets both)")
    from dashboard.celery import app

    app.control.purge()
    settings.PUBLIC_BASE_URL = live_server.url
    for fake in running(FakeLuma, settings):  # vendor videos: a start is one quick request, so ticks interleave
        fake.script = ["queued"]  # never finishes: the test is about sessions, not videos
        _race(fake, live_server, settings, tmp_path)


def _race(fake: FakeLuma, live_server: Any, settings: Any, tmp_path: Path) -> None:
    users = [make_user(f"client{i}", credits=100_000) for i in range(CLIENTS)]
    keys = [make_key(user)[1] for user in users]
    ticked = [make_session(owner=users[i % CLIENTS], timed=True, max_videos=100, interval_seconds=10,
                           width=256, height=144).pk for i in range(TICKED)]
    env = worker_environ(database=connection.settings_dict, media_root=str(settings.MEDIA_ROOT),
                         data_dir=str(tmp_path / "data"), public_base_url=live_server.url,
                         secret_key=django_settings.SECRET_KEY, SWEEP_INTERVAL="1", LUMA_API_KEY=fake.api_key,
                         LUMA_BASE_URL=fake.base_url)
    log = tmp_path / "worker.log"
    worker = worker_start(env, log)
    stop, ticked_enough = threading.Event(), threading.Event()
    ticked_ids = list(GenerationSession.objects.filter(pk__in=ticked).values_list("public_id", flat=True))

    def tick_charges() -> int:
        return CreditEntry.objects.filter(kind="charge", session_id__in=ticked_ids).count()

    def keep_ticks_due() -> None:  # every sweep ticks every one of them: a video each, charged
        from django.db import connection as thread_connection

        try:
            while not stop.is_set():
                GenerationSession.objects.filter(pk__in=ticked).update(
                    next_run_at=timezone.now() - timedelta(seconds=5))
                if tick_charges() >= 3 * TICKED:
                    ticked_enough.set()
                stop.wait(0.3)
        finally:
            thread_connection.close()

    def create(i: int) -> list[int]:
        codes: list[int] = []
        with requests.Session() as http:
            # At least REQUESTS_EACH each, and on until the worker has ticked the others twice meanwhile.
            while len(codes) < REQUESTS_EACH or (not ticked_enough.is_set() and len(codes) < 300):
                n = len(codes)
                r = http.post(f"{live_server.url}/api/v3/videos/sessions", timeout=120,
                              headers={"X-API-Key": keys[i]},
                              json={"prompt": f"client {i} session {n}", "model": "luma-ray-2.0-flash-5s-t2v",
                                    "width": 256, "height": 144, "max_videos": 3, "interval_seconds": 10})
                codes.append(r.status_code)
        return codes

    ticker = threading.Thread(target=keep_ticks_due)
    ticker.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            codes = [c for batch in pool.map(create, range(CLIENTS)) for c in batch]
        ticks = tick_charges()
    finally:
        stop.set()
        ticker.join(30)
        worker_stop(worker)
    text = log.read_text(errors="replace")
    assert codes and set(codes) == {201}, sorted(set(codes))
    assert "deadlock detected" not in text.lower()
    assert "raised unexpected" not in text  # no task failed
    assert ticks >= 3 * TICKED  # the worker really ticked (twice each) while the clients created sessions
