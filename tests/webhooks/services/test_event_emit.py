"""Which lifecycle transitions emit which events (the single-line calls in videos/services)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.factories import make_session, make_user
from videos import services as video_services
from videos.models import GenerationSession, Video
from webhooks import services
from webhooks.models import Delivery, Message

pytestmark = pytest.mark.django_db


def _events() -> list[str]:
    return list(Message.objects.order_by("id").values_list("event", flat=True))


def test_stopping_a_session_emits_session_stopped_once(alice, receiver, enqueued,
                                                       django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    with django_capture_on_commit_callbacks(execute=True):
        video_services.session_stop(session=session)
        video_services.session_stop(session=session)  # idempotent: no second event
    # The stop cancels (and refunds) the video still queued: its own event follows the session's, once.
    assert _events() == ["session.stopped", "video.failed"]
    assert Message.objects.get(event="video.failed").payload["data"]["error_code"] == "cancelled"
    services.delivery_attempt(Delivery.objects.get(message__event="session.stopped").pk)
    body = Webhook(endpoint.secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
    assert body["data"]["session_id"] == session.public_id and body["data"]["status"] == "stopped"


def test_running_out_of_credits_emits_session_error(db, receiver, enqueued, django_capture_on_commit_callbacks):
    user = make_user("frugal", credits=50)
    services.endpoint_create(user=user, url=receiver.url, events=["session.error"])
    session = make_session(owner=user, timed=True, max_videos=5, interval_seconds=10)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
            video_services.session_tick(session.pk)
    message = Message.objects.get()
    assert message.event == "session.error" and "credits" in message.payload["data"]["error"]


def test_claiming_and_completing_emit_processing_then_completed(alice, receiver, enqueued, monkeypatch,
                                                                django_capture_on_commit_callbacks):
    """The local renderer is swapped for a stored file: the transitions are what is tested, not the render."""
    from videos import lifecycle
    from videos.services.render import render_claim

    services.endpoint_create(user=alice, url=receiver.url)
    session = make_session(owner=alice)
    video = session.videos.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert render_claim(video, lifecycle.new_owner())
        assert not render_claim(video, lifecycle.new_owner())  # a second run claims nothing and emits nothing
        Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED)
        video_services.session_finish_if_done(session.pk)
    assert _events() == ["video.processing", "session.completed"]
    processing = Message.objects.get(event="video.processing")
    assert processing.payload["data"]["video_id"] == video.public_id
    assert processing.payload["data"]["status"] == "processing"


def test_a_single_video_failing_emits_video_failed_then_session_error(alice, receiver, enqueued,
                                                                      django_capture_on_commit_callbacks: Any):
    services.endpoint_create(user=alice, url=receiver.url)
    session = make_session(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_fail(session.videos.get().pk, error="boom")
        video_services.video_fail(session.videos.get().pk, error="boom")  # final already: nothing more
    assert _events() == ["video.failed", "session.error"]


def test_a_broken_serializer_never_breaks_the_video(alice, receiver, enqueued, monkeypatch,
                                                    django_capture_on_commit_callbacks):
    services.endpoint_create(user=alice, url=receiver.url)

    def broken(obj: Any) -> dict[str, Any]:
        raise RuntimeError("serializer bug")

    monkeypatch.setattr(services, "object_payload", broken)
    session = make_session(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_fail(session.videos.get().pk, error="boom")
    video = session.videos.get()
    session.refresh_from_db()
    assert video.status == "failed" and session.status == "error"  # the transition and its refund stand
    assert not Message.objects.exists()


def test_a_vendor_video_emits_processing_at_submit_and_at_dispatch_then_completed(
        alice, receiver, enqueued, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    """Through the fake vendor (queued behind a cap of one, then dispatched), as tests/videos/tasks does."""
    from tests.videos.tasks.test_video_lifecycle import _mp4_bytes, _poll
    from videos import tasks
    from videos.providers import fake

    monkeypatch.setattr(tasks.vendor_dispatch_task, "delay_on_commit", lambda *a, **k: None)  # the test dispatches

    fake.reset()
    settings.PROVIDERS = {"luma": "videos.providers.fake.FakeProvider"}
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "luma": {"max_concurrent": 1}}
    fake.FakeProvider.result_bytes = _mp4_bytes(tmp_path)
    services.endpoint_create(user=alice, url=receiver.url, events=["video.processing", "video.completed"])
    first = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    second = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_start(first.pk)
        video_services.video_start(second.pk)  # queued behind the cap: no event
        _poll(first.pk)
        assert video_services.vendor_dispatch("luma") == [second.pk]
    fake.reset()
    got = [(m.event, m.object_id, m.payload["data"]["status"]) for m in Message.objects.order_by("id")]
    assert got == [("video.processing", first.public_id, "processing"),
                   ("video.completed", first.public_id, "completed"),
                   ("video.processing", second.public_id, "processing")]


def test_reaching_a_budget_completes_the_session_and_says_why(db, receiver, enqueued,
                                                              django_capture_on_commit_callbacks):
    user = make_user("capped", credits=500)
    services.endpoint_create(user=user, url=receiver.url, events=["session.completed"])
    session = make_session(owner=user, timed=True, max_videos=5, interval_seconds=10, budget_credits=30)
    with django_capture_on_commit_callbacks(execute=True):
        Video.objects.filter(session=session).update(status=Video.Status.COMPLETED)  # the first one is done
        GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
        video_services.session_tick(session.pk)  # a second 20-credit video would make 40 > 30
    message = Message.objects.get()
    assert message.event == "session.completed"
    assert message.payload["data"]["error"] == "Stopped: budget of 30 credits reached."
    assert message.payload["data"]["budget_credits"] == 30.0 and message.payload["data"]["credits_used"] == 20.0
