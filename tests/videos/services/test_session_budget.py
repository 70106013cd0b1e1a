"""A timed session's budget: no video is charged that would take its spend (charges less refunds) past it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import CreditEntry
from tests.factories import make_session
from videos import services
from videos.exceptions import UnsupportedValue
from videos.models import GenerationSession, Video
from videos.services.results import video_fail

pytestmark = pytest.mark.django_db
MODEL = "luma-ray-2.0-flash-5s-t2v"  # 20 credits a video


def _tick_due(session: GenerationSession) -> None:
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    services.session_tick(session.pk)


def _charged(session: GenerationSession) -> Decimal:
    rows = CreditEntry.objects.filter(session_id=session.public_id, kind__in=("charge", "refund"))
    return -sum((row.delta for row in rows), Decimal(0))


def _finish_all(session: GenerationSession) -> None:
    Video.objects.filter(session=session).exclude(status__in=Video.FINAL).update(status=Video.Status.COMPLETED)
    services.session_finish_if_done(session.pk)


def test_reaching_the_budget_ends_the_session_without_charging_past_it(alice) -> None:
    session = make_session(owner=alice, model=MODEL, timed=True, max_videos=10, interval_seconds=10,
                           budget_credits=50)
    for _ in range(5):
        _tick_due(session)
    session.refresh_from_db()
    assert session.budget_credits == Decimal("50.00")
    assert session.videos.count() == 2 and _charged(session) == Decimal("40.00")  # a third would make 60
    assert session.next_run_at is None and session.error == "Stopped: budget of 50 credits reached."
    assert session.status == "running"  # its two videos are still being made
    _finish_all(session)
    session.refresh_from_db()
    assert session.status == "completed" and session.finished_at is not None
    assert "budget of 50 credits" in session.error


def test_a_budget_of_exactly_n_videos_makes_n(alice) -> None:
    session = make_session(owner=alice, model=MODEL, timed=True, max_videos=10, interval_seconds=10,
                           budget_credits=60)
    for _ in range(4):
        _tick_due(session)
    assert session.videos.count() == 3 and _charged(session) == Decimal("60.00")


def test_refunds_count_back_into_the_budget(alice) -> None:
    session = make_session(owner=alice, model=MODEL, timed=True, max_videos=10, interval_seconds=10,
                           budget_credits=40)
    _tick_due(session)
    first, second = session.videos.order_by("sequence")
    video_fail(first.pk, error="The vendor failed.", code="vendor_error")  # refunded: 20 of 40 spent
    _tick_due(session)
    assert session.videos.count() == 3 and _charged(session) == Decimal("40.00")
    _tick_due(session)
    session.refresh_from_db()
    assert session.videos.count() == 3 and "budget" in session.error and session.next_run_at is None


def test_without_a_budget_only_max_videos_bounds_the_session(alice) -> None:
    session = make_session(owner=alice, model=MODEL, timed=True, max_videos=3, interval_seconds=10)
    for _ in range(3):
        _tick_due(session)
    session.refresh_from_db()
    assert session.budget_credits is None and session.videos.count() == 3 and session.error == ""


def test_a_budget_below_one_video_is_refused_before_anything_is_charged(alice) -> None:
    with pytest.raises(UnsupportedValue) as caught:
        make_session(owner=alice, model=MODEL, timed=True, max_videos=3, budget_credits=19.99)
    assert caught.value.field == "budget_credits" and caught.value.status == 422
    assert not GenerationSession.objects.filter(owner=alice).exists()
    assert not CreditEntry.objects.filter(account__user=alice, kind="charge").exists()


def test_the_database_refuses_a_budget_that_is_not_positive(alice) -> None:
    session = make_session(owner=alice, model=MODEL, timed=True, max_videos=3, budget_credits=40)
    with pytest.raises(IntegrityError), transaction.atomic():
        GenerationSession.objects.filter(pk=session.pk).update(budget_credits=0)
