"""The session scheduler (videos.services.schedule): due sessions claimed in batches, on a fixed rate, their videos
and charges written in bulk, every session rule kept (max_videos, ends_at, budget, credits)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billing.models import CreditAccount, CreditEntry
from billing.services import credit_balance
from tests.factories import make_session, make_user
from tests.webhooks.conftest import enqueued, receiver  # noqa: F401 - the webhook tests' fixtures
from videos import tasks
from videos.models import GenerationSession, Video, VideoModel
from videos.services.schedule import Ticked, session_tick, sessions_tick_due
from webhooks import services as webhooks
from webhooks.models import Message

pytestmark = pytest.mark.django_db
MODEL = "luma-ray-2.0-flash-5s-t2v"  # 20 credits a video


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every start message the scheduler sends (one per video made), recorded instead of sent."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.video_start_task, "apply_async", lambda args, **kw: sent.append(args[0]))
    return sent


@pytest.fixture
def tick(started: list[int], django_capture_on_commit_callbacks: Any) -> Callable[..., Ticked]:
    """sessions_tick_due, with what it sends after its commit sent (recorded in `started`)."""
    def run(**kwargs: Any) -> Ticked:
        with django_capture_on_commit_callbacks(execute=True):
            return sessions_tick_due(**kwargs)
    return run


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set what timezone.now() answers (every caller: the scheduler, auto_now fields)."""
    def set_to(when: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: when)
    return set_to


def _due(session: GenerationSession, seconds_ago: float) -> Any:
    due = timezone.now() - timedelta(seconds=seconds_ago)
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=due)
    return due


def _sequences(session: GenerationSession) -> list[int]:
    return list(session.videos.order_by("sequence").values_list("sequence", flat=True))


def test_next_run_at_moves_on_by_exactly_the_interval_from_the_due_time_not_from_now(alice, started, tick) -> None:
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    due = _due(session, 3.5)  # the tick runs 3.5 s late
    with_videos = tick()
    session.refresh_from_db()
    assert session.next_run_at == due + timedelta(seconds=10)  # not now + 10
    assert with_videos.claimed == 1 and _sequences(session) == [0, 1] and session.videos_created == 2
    video = session.videos.get(sequence=1)
    assert started == [video.pk]
    assert CreditEntry.objects.filter(key=f"video:{video.public_id}:charge", delta=-20).count() == 1


def test_the_grid_is_creation_plus_n_intervals_however_late_each_tick_runs(alice, started, clock) -> None:
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=60, duration_minutes=10)
    anchor = session.ends_at - timedelta(minutes=10)  # the instant session_create took
    assert session.next_run_at == anchor + timedelta(seconds=60)
    for n, late in ((1, 0.7), (2, 3.2), (3, 0.05), (4, 59.9)):
        clock(anchor + timedelta(seconds=60 * n + late))
        assert sessions_tick_due().claimed == 1
        session.refresh_from_db()
        assert session.next_run_at == (anchor + timedelta(seconds=60 * (n + 1)) if n < 4 else None)
        video = session.videos.get(sequence=n)
        assert video.created_at == anchor + timedelta(seconds=60 * n + late)
    assert _sequences(session) == [0, 1, 2, 3, 4]


def test_a_session_more_than_an_interval_behind_makes_one_video_and_skips_the_missed_slots(alice, started) -> None:
    session = make_session(owner=alice, timed=True, max_videos=20, interval_seconds=10)
    due = _due(session, 35)  # the scheduler was down: slots at due, +10, +20 and +30 have passed
    sessions_tick_due()
    session.refresh_from_db()
    assert _sequences(session) == [0, 1]  # one video, not a burst of four
    assert session.next_run_at == due + timedelta(seconds=40)  # back on its grid, the next slot to come
    assert sessions_tick_due().claimed == 0


def test_a_tick_with_nothing_due_claims_nothing_and_sends_nothing(alice, started, django_assert_max_num_queries) -> None:
    make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)  # due in 10 s
    GenerationSession.objects.update(next_run_at=timezone.now() + timedelta(seconds=10))
    with django_assert_max_num_queries(3):  # the claim, and nothing else (+ the test transaction's savepoint)
        ticked = sessions_tick_due()
    assert ticked.claimed == 0 and ticked.videos == [] and started == []


def test_creating_a_session_sends_only_its_first_videos_start(alice, django_capture_on_commit_callbacks,
                                                              monkeypatch) -> None:
    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(tasks.video_start_task, "delay", lambda *a, **k: sent.append(("start", a)))
    monkeypatch.setattr(tasks.session_tick_task, "apply_async", lambda *a, **k: sent.append(("tick", a)))
    with django_capture_on_commit_callbacks(execute=True):
        session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    assert sent == [("start", (session.videos.get().pk,))]  # no countdown message per session


def test_batches_take_the_most_overdue_first_and_each_due_session_once(alice, started, tick) -> None:
    sessions = [make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10) for _ in range(5)]
    for i, session in enumerate(sessions):
        _due(session, 5 - i)  # the first is the most overdue
    first = tick(limit=3)
    assert first.claimed == 3 and len(first.videos) == 3
    assert {v.session_id for v in Video.objects.filter(pk__in=first.videos)} == {s.pk for s in sessions[:3]}
    assert tick(limit=3).claimed == 2
    assert tick(limit=3).claimed == 0  # a sweep or a second scheduler re-running finds nothing
    assert all(_sequences(s) == [0, 1] for s in sessions) and len(started) == 5
    assert CreditEntry.objects.filter(kind="charge").count() == 10


def test_one_batch_charges_an_owner_in_turn_and_errors_the_session_it_cannot_pay(
        db, started, receiver, enqueued, django_capture_on_commit_callbacks) -> None:  # noqa: F811
    user = make_user("frugal", credits=100)  # three sessions' first videos: 60; then 40 left for two more
    webhooks.endpoint_create(user=user, url=receiver.url, events=["session.error"])
    sessions = [make_session(owner=user, model=MODEL, timed=True, max_videos=5, interval_seconds=10)
                for _ in range(3)]
    for i, session in enumerate(sessions):
        _due(session, 3 - i)
    with django_capture_on_commit_callbacks(execute=True):
        ticked = sessions_tick_due()
    assert ticked.claimed == 3 and len(ticked.videos) == 2 and ticked.errors == 1
    for session in sessions:
        session.refresh_from_db()
    assert [s.status for s in sessions] == ["running", "running", "error"]
    assert sessions[2].error.startswith("Stopped: out of credits.") and sessions[2].next_run_at is None
    assert _sequences(sessions[2]) == [0]
    assert credit_balance(user=user) == Decimal("0.00")
    account = CreditAccount.objects.get(user=user)
    assert sum(e.delta for e in account.entries.all()) == account.balance  # the ledger and the balance agree
    assert [e.balance_after for e in account.entries.filter(kind="charge").order_by("id")][-2:] == [
        Decimal("20.00"), Decimal("0.00")]
    message = Message.objects.get()
    assert message.event == "session.error" and message.payload["data"]["session_id"] == sessions[2].public_id


def test_max_videos_ends_the_session_at_its_last_video(alice, started) -> None:
    session = make_session(owner=alice, timed=True, max_videos=2, interval_seconds=10)
    _due(session, 1)
    sessions_tick_due()
    session.refresh_from_db()
    assert _sequences(session) == [0, 1] and session.next_run_at is None and session.status == "running"
    Video.objects.filter(session=session).update(status=Video.Status.COMPLETED)
    from videos.services import session_finish_if_done

    session_finish_if_done(session.pk)
    session.refresh_from_db()
    assert session.status == "completed"


def test_no_slot_at_or_after_ends_at_makes_a_video(alice, started) -> None:
    session = make_session(owner=alice, timed=True, max_videos=10, interval_seconds=10, duration_minutes=1)
    due = _due(session, 1)
    GenerationSession.objects.filter(pk=session.pk).update(ends_at=due + timedelta(seconds=15))
    sessions_tick_due()  # the slot at `due` is before ends_at: made; the next (due + 10) too
    session.refresh_from_db()
    assert _sequences(session) == [0, 1] and session.next_run_at == due + timedelta(seconds=10)
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1),
                                                           ends_at=timezone.now() - timedelta(seconds=2))
    sessions_tick_due()  # a slot at or after ends_at: none
    session.refresh_from_db()
    assert _sequences(session) == [0, 1] and session.next_run_at is None


def test_a_budget_stops_the_session_in_a_batch_with_others(alice, started) -> None:
    capped = make_session(owner=alice, model=MODEL, timed=True, max_videos=10, interval_seconds=10,
                          budget_credits=40)
    free = make_session(owner=alice, model=MODEL, timed=True, max_videos=10, interval_seconds=10)
    for _ in range(3):
        _due(capped, 2)
        _due(free, 1)
        sessions_tick_due()
    capped.refresh_from_db()
    assert _sequences(capped) == [0, 1] and capped.error == "Stopped: budget of 40 credits reached."
    assert capped.next_run_at is None and _sequences(free) == [0, 1, 2, 3]


def test_a_stopped_or_deleted_session_is_not_ticked(alice, started) -> None:
    from videos import services

    stopped = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    deleted = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    services.session_stop(session=stopped)
    _due(stopped, 1)  # even with a due time left behind
    services.session_delete(session=deleted)
    assert sessions_tick_due().claimed == 0 and _sequences(stopped) == [0] and started == []


def test_session_tick_of_one_session_waits_for_it_and_ticks_only_if_due(alice, started,
                                                                        django_capture_on_commit_callbacks) -> None:
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    assert session_tick(session.pk).claimed == 0  # not due yet
    _due(session, 1)
    with django_capture_on_commit_callbacks(execute=True):
        session_tick(session.pk)
        session_tick(session.pk)  # a redelivered old countdown message: the slot is taken, nothing more
    assert _sequences(session) == [0, 1] and len(started) == 1


def test_a_broker_outage_after_the_commit_loses_no_video(alice, monkeypatch, django_capture_on_commit_callbacks,
                                                         caplog) -> None:
    """The start message cannot be sent: the video is queued all the same (the sweep starts it), the loop lives."""
    from kombu.exceptions import OperationalError

    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.video_start_task, "apply_async", down)
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    _due(session, 1)
    with django_capture_on_commit_callbacks(execute=True):
        ticked = sessions_tick_due()
    assert len(ticked.videos) == 1 and Video.objects.get(pk=ticked.videos[0]).stage == Video.Stage.QUEUED
    assert "could not send start messages" in caplog.text


def test_a_partition_ticks_only_its_owners_sessions(alice, bob, started) -> None:
    """`ticksessions --partition K/N`: N schedulers that never share an owner's credit account."""
    mine = [make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10) for _ in range(2)]
    theirs = make_session(owner=bob, timed=True, max_videos=5, interval_seconds=10)
    for session in [*mine, theirs]:
        _due(session, 1)
    assert alice.pk % 2 != bob.pk % 2
    ticked = sessions_tick_due(partition=(alice.pk % 2, 2))
    assert ticked.claimed == 2 and {v.session_id for v in Video.objects.filter(pk__in=ticked.videos)} == {
        s.pk for s in mine}
    assert _sequences(theirs) == [0]
    assert sessions_tick_due(partition=(bob.pk % 2, 2)).claimed == 1 and _sequences(theirs) == [0, 1]


def test_a_session_whose_model_goes_off_sale_ends_in_error_and_charges_nothing_more(
        alice, bob, started, tick, receiver, enqueued) -> None:  # noqa: F811 - fixtures
    """Its model disabled by the operator: a session with no fallback ends (session.error, no video made, no
    charge); one with its own fallback_models goes on (its new video fails over at dispatch)."""
    webhooks.endpoint_create(user=alice, url=receiver.url, events=["session.error"])
    alone = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    chained = make_session(owner=bob, timed=True, max_videos=5, interval_seconds=10,
                           fallback_models=["luma-ray-2.0-flash"])
    before = credit_balance(user=alice)
    _due(alone, 1), _due(chained, 1)
    VideoModel.objects.filter(model_id=MODEL).update(enabled=False)
    done = tick()
    alone.refresh_from_db(), chained.refresh_from_db()
    assert alone.status == "error" and alone.next_run_at is None and alone.finished_at is not None
    assert alone.error == f"Stopped: the model {MODEL} was taken out of service; no more videos will be made."
    assert _sequences(alone) == [0] and credit_balance(user=alice) == before
    assert chained.status == "running" and _sequences(chained) == [0, 1]
    assert started == [chained.videos.get(sequence=1).pk] and done.errors == 1
    message = Message.objects.get(event="session.error")
    assert message.payload["data"]["session_id"] == alone.public_id and message.payload["data"]["status"] == "error"
    assert tick().claimed == 0  # ended: never claimed again
