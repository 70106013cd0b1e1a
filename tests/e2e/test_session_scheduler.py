"""The sessions scheduler as it runs in production: `manage.py ticksessions` processes on PostgreSQL and Redis.

- SIGKILLed in the middle of a batch (held there by a lock the test takes on the owner's credit account), it loses
  nothing and duplicates nothing: two new schedulers make every due video exactly once, each charged once.
- With nothing due it sends nothing: the broker's queues stay empty while it loops.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from billing.models import CreditAccount, CreditEntry
from billing.services import credit_balance
from tests.e2e.workers import scheduler_start, worker_environ, worker_kill, worker_stop
from tests.factories import make_session, make_user
from videos.models import GenerationSession, Video

pytestmark = pytest.mark.worker
SESSIONS = 30


@pytest.fixture
def env(transactional_db: None, settings: Any, tmp_path: Path) -> dict[str, str]:
    if connection.vendor != "postgresql" or django_settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("needs PostgreSQL and a broker server (make test sets both)")
    from dashboard.celery import app

    app.control.purge()
    return worker_environ(database=connection.settings_dict, media_root=str(settings.MEDIA_ROOT),
                          data_dir=str(tmp_path / "data"), public_base_url="http://127.0.0.1:9",
                          secret_key=django_settings.SECRET_KEY)


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def _wait_for(condition: Any, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds  # generous: nothing here is timed
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_scheduler_killed_mid_batch_loses_nothing_and_duplicates_nothing(env: dict[str, str],
                                                                           tmp_path: Path) -> None:
    user = make_user("sessions", credits=100_000)
    sessions = [make_session(owner=user, timed=True, max_videos=3, interval_seconds=60, width=256, height=144)
                for _ in range(SESSIONS)]
    release, holding = threading.Event(), threading.Event()

    def hold_the_account() -> None:  # the batch will wait here, after claiming the sessions, before committing
        try:
            with transaction.atomic():
                list(CreditAccount.objects.select_for_update().filter(user=user))
                holding.set()
                release.wait(120)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_account)
    holder.start()
    assert holding.wait(30)
    due = timezone.now() - timedelta(seconds=1)
    GenerationSession.objects.filter(pk__in=[s.pk for s in sessions]).update(next_run_at=due)
    log = tmp_path / "scheduler.log"
    doomed = scheduler_start(env, log)
    try:
        _wait_for(_waiting_on_a_lock, "the scheduler's batch never reached the account lock")
        worker_kill(doomed)  # SIGKILL, mid-batch: the sessions claimed, nothing committed
    finally:
        release.set()
        holder.join(60)
    assert Video.objects.filter(sequence__gte=1).count() == 0  # the killed batch left nothing behind
    survivors = [scheduler_start(env, log) for _ in range(2)]  # several at once: SKIP LOCKED splits the work
    try:
        _wait_for(lambda: Video.objects.filter(sequence=1).count() >= SESSIONS, "the due videos were not made")
    finally:
        for scheduler in survivors:
            worker_stop(scheduler)
    for session in GenerationSession.objects.filter(pk__in=[s.pk for s in sessions]):
        assert list(session.videos.order_by("sequence").values_list("sequence", flat=True)) == [0, 1]
        assert session.videos_created == 2 and session.next_run_at == due + timedelta(seconds=60)  # fixed rate
    videos = Video.objects.filter(session__owner=user)
    charges = CreditEntry.objects.filter(kind="charge", account__user=user)
    assert videos.count() == 2 * SESSIONS and charges.count() == 2 * SESSIONS
    assert not charges.values("video_id").annotate(n=Count("id")).filter(n__gt=1).exists()  # one charge a video
    assert set(charges.values_list("video_id", flat=True)) == set(videos.values_list("public_id", flat=True))
    assert credit_balance(user=user) == Decimal(100_000) - 2 * SESSIONS * Decimal("20.00")
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and text.count("ticksessions: stopped") == 2


def test_a_scheduler_with_nothing_due_sends_nothing(env: dict[str, str], tmp_path: Path) -> None:
    user = make_user("idle", credits=1000)
    for _ in range(3):  # running, due only in a minute
        make_session(owner=user, timed=True, max_videos=5, interval_seconds=60, width=256, height=144)
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.flushdb()  # the first videos' start messages: not the scheduler's
    log = tmp_path / "scheduler.log"
    scheduler = scheduler_start(env, log, "--idle", "0.2", "--report-every", "0.5")
    try:
        _wait_for(lambda: log.read_text().count('"sessions.scheduler"') + log.read_text().count(
            "sessions.scheduler ") >= 3, "the scheduler did not loop")
    finally:
        worker_stop(scheduler)
    assert [broker.llen(q) for q in ("celery", "sessions", "webhooks")] == [0, 0, 0]
    assert Video.objects.filter(sequence__gte=1).count() == 0
