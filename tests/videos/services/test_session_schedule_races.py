"""The scheduler's batches against each other and against stop/delete, on PostgreSQL row locks: a batch held open
(its owner's credit account locked by the test) is what the other side runs into."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.models import CreditAccount, CreditEntry
from billing.services import credit_balance
from tests.factories import make_session
from videos import services
from videos.models import GenerationSession, Video
from videos.services import schedule
from videos.services.schedule import Ticked, sessions_tick_due

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and SKIP LOCKED need PostgreSQL")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(schedule, "videos_start", lambda pks: sent.extend(pks))
    return sent


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run `fn` on its own database connection; the list gets its result (or the exception it raised)."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out.append(e)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


@pytest.fixture
def hold_account(alice: Any) -> Iterator[Callable[[], threading.Event]]:
    """Lock alice's credit account row (as a long charge would) until the returned event is set: a batch that
    claims her sessions then waits there, mid-transaction, holding their rows. Call it after making them."""
    holders: list[tuple[threading.Thread, list[Any], threading.Event]] = []

    def hold() -> threading.Event:
        release, holding = threading.Event(), threading.Event()

        def run() -> None:
            with transaction.atomic():
                list(CreditAccount.objects.select_for_update().filter(user=alice))
                holding.set()
                release.wait(60)

        thread, out = _in_thread(run)
        holders.append((thread, out, release))
        assert holding.wait(30)
        return release

    yield hold
    for thread, out, release in holders:
        release.set()
        thread.join(60)
        assert out == [None], out


def _waiting_on_locks(at_least: int) -> None:
    """Wait (generously) until `at_least` backends of this database wait on a row lock."""
    deadline = time.monotonic() + 60
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0] >= at_least:
                return
        assert time.monotonic() < deadline, "nobody is waiting on a lock"
        time.sleep(0.05)


def _make_due(sessions: list[GenerationSession]) -> None:
    GenerationSession.objects.filter(pk__in=[s.pk for s in sessions]).update(
        next_run_at=timezone.now() - timedelta(seconds=1))


def test_a_batch_in_progress_is_skipped_by_a_second_scheduler_not_done_twice(alice, started, hold_account) -> None:
    sessions = [make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10) for _ in range(8)]
    _make_due(sessions)
    account_held = hold_account()
    first, first_out = _in_thread(lambda: sessions_tick_due(limit=50))
    _waiting_on_locks(1)  # the first batch holds every due session and waits for alice's account
    second = sessions_tick_due(limit=50)  # another scheduler at the same moment: nothing for it, at once
    assert second.claimed == 0 and second.videos == []
    account_held.set()
    first.join(60)
    assert isinstance(first_out[0], Ticked) and first_out[0].claimed == 8
    assert sessions_tick_due(limit=50).claimed == 0  # and after the commit, nothing is due any more
    for session in sessions:
        assert list(session.videos.order_by("sequence").values_list("sequence", flat=True)) == [0, 1]
    charges = CreditEntry.objects.filter(kind="charge", session_id__in=[s.public_id for s in sessions])
    assert charges.count() == 16 and charges.values("video_id").distinct().count() == 16
    assert sorted(started) == sorted(Video.objects.filter(sequence=1).values_list("pk", flat=True))


def test_two_schedulers_draining_the_same_due_sessions_make_each_video_once(alice, started) -> None:
    sessions = [make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10) for _ in range(20)]
    _make_due(sessions)  # alice's 1000 credits pay for 20 x 2 videos of 20
    go = threading.Barrier(2)

    def drain() -> int:
        go.wait(30)
        claimed = 0
        while (batch := sessions_tick_due(limit=3)).claimed:
            claimed += batch.claimed
        return claimed

    threads = [_in_thread(drain) for _ in range(2)]
    for thread, _ in threads:
        thread.join(120)
    claimed = [out[0] for _, out in threads]
    assert all(isinstance(c, int) for c in claimed) and sum(claimed) == 20, claimed
    assert Video.objects.filter(sequence=1).count() == 20 and len(started) == 20
    assert Video.objects.count() == 40 and CreditEntry.objects.filter(kind="charge").count() == 40
    assert credit_balance(user=alice) == Decimal("200.00")


def test_a_stop_that_comes_during_a_batch_waits_for_it_then_cancels_and_refunds_what_it_made(
        alice, started, hold_account) -> None:
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    _make_due([session])
    account_held = hold_account()
    batch, batch_out = _in_thread(lambda: sessions_tick_due(limit=50))
    _waiting_on_locks(1)
    stopper, stop_out = _in_thread(lambda: services.session_stop(session=session))
    _waiting_on_locks(2)  # the stop waits for the batch's lock on the session
    account_held.set()
    batch.join(60)
    stopper.join(60)
    assert batch_out[0].videos and not isinstance(stop_out[0], BaseException)
    session.refresh_from_db()
    assert session.status == "stopped" and session.next_run_at is None
    assert sorted(session.videos.values_list("sequence", "stage")) == [(0, "cancelled"), (1, "cancelled")]
    entries = CreditEntry.objects.filter(session_id=session.public_id)
    assert entries.filter(kind="charge").count() == 2 and entries.filter(kind="refund").count() == 2
    assert credit_balance(user=alice) == Decimal("1000.00")
    assert sessions_tick_due().claimed == 0


def test_a_delete_that_comes_during_a_batch_leaves_nothing_charged(alice, started, hold_account) -> None:
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    _make_due([session])
    account_held = hold_account()
    batch, batch_out = _in_thread(lambda: sessions_tick_due(limit=50))
    _waiting_on_locks(1)
    deleter, delete_out = _in_thread(lambda: services.session_delete(session=session))
    _waiting_on_locks(2)
    account_held.set()
    batch.join(60)
    deleter.join(60)
    assert batch_out[0].videos and delete_out == [2]  # the batch's video was there to be deleted (and refunded)
    assert not GenerationSession.objects.filter(pk=session.pk).exists() and not Video.objects.exists()
    entries = CreditEntry.objects.filter(session_id=session.public_id)
    assert entries.filter(kind="charge").count() == 2 and entries.filter(kind="refund").count() == 2
    assert credit_balance(user=alice) == Decimal("1000.00")


def test_a_session_held_by_a_stop_is_skipped_by_the_batch_which_does_not_wait(alice, started) -> None:
    held, other = (make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10) for _ in range(2))
    _make_due([held, other])
    release, holding = threading.Event(), threading.Event()

    def stop_slowly() -> None:
        with transaction.atomic():
            locked = GenerationSession.objects.select_for_update().get(pk=held.pk)
            holding.set()
            release.wait(60)
            services.session_stop(session=locked)

    stopper, out = _in_thread(stop_slowly)
    assert holding.wait(30)
    ticked = sessions_tick_due()
    release.set()
    stopper.join(60)
    assert ticked.claimed == 1 and Video.objects.filter(session=other, sequence=1).exists()
    held.refresh_from_db()
    assert held.status == "stopped" and held.videos.count() == 1
    assert sessions_tick_due().claimed == 0
