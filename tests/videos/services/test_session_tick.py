"""Timed sessions: a video every interval until max_videos or the deadline; stop; running out of credits."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import CreditEntry
from tests.factories import make_session, make_user
from videos import services
from videos.models import GenerationSession, Video

pytestmark = pytest.mark.django_db


def _make_due(session: GenerationSession) -> None:
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))


def _finish_all(session: GenerationSession) -> None:
    for video in session.videos.exclude(status__in=Video.FINAL):
        Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED)
    services.session_finish_if_done(session.pk)


def test_it_makes_the_next_video_only_when_due(alice) -> None:
    session = make_session(owner=alice, timed=True, max_videos=3, interval_seconds=60)
    services.session_tick(session.pk)
    assert session.videos.count() == 1  # not due yet
    _make_due(session)
    services.session_tick(session.pk)
    services.session_tick(session.pk)  # a duplicated message: the slot is taken, nothing more
    assert list(session.videos.values_list("sequence", flat=True).order_by("sequence")) == [0, 1]
    assert CreditEntry.objects.filter(session_id=session.public_id, kind="charge").count() == 2


def test_it_completes_after_max_videos_once_they_are_done(alice) -> None:
    session = make_session(owner=alice, timed=True, max_videos=2, interval_seconds=10)
    _make_due(session)
    services.session_tick(session.pk)
    session.refresh_from_db()
    assert session.next_run_at is None and session.status == "running"
    _finish_all(session)
    session.refresh_from_db()
    assert session.status == "completed" and session.videos.count() == 2


def test_it_stops_making_videos_after_duration_minutes(alice) -> None:
    session = make_session(owner=alice, timed=True, max_videos=10, interval_seconds=10, duration_minutes=1)
    GenerationSession.objects.filter(pk=session.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    _make_due(session)
    services.session_tick(session.pk)
    assert session.videos.count() == 1
    _finish_all(session)
    session.refresh_from_db()
    assert session.status == "completed"


def test_a_stopped_session_makes_no_more_videos(alice) -> None:
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    services.session_stop(session=session)
    _make_due(session)
    services.session_tick(session.pk)
    session.refresh_from_db()
    assert session.status == "stopped" and session.videos.count() == 1


def test_running_out_of_credits_ends_the_session_with_error(db) -> None:
    user = make_user("frugal", credits=50)  # one 20-credit video, then one more, then not a third
    session = make_session(owner=user, timed=True, max_videos=5, interval_seconds=10, model="luma-ray-2.0-flash-5s-t2v")
    for _ in range(2):
        _make_due(session)
        services.session_tick(session.pk)
    session.refresh_from_db()
    assert session.status == "error" and "credits" in session.error
    assert session.videos.count() == 2
    assert CreditEntry.objects.filter(account__user=user, kind="charge").count() == 2
