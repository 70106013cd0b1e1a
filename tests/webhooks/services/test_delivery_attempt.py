"""Deliveries against a real receiver on 127.0.0.1: signed, retried on 5xx/429/timeouts, final on other answers."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.factories import make_session
from videos import services as video_services
from videos.models import Video
from webhooks import outbound, services
from webhooks.models import Attempt, Delivery, Endpoint

pytestmark = pytest.mark.django_db


def _fail_video(owner: Any, capture: Any) -> Video:
    """A real lifecycle transition: the video fails (and its one-video session ends in error)."""
    session = make_session(owner=owner)
    video = session.videos.get()
    with capture(execute=True):
        video_services.video_fail(video.pk, error="The vendor refused the prompt.", code="vendor_error")
    return video


def _due(delivery: Delivery) -> None:
    """Simulate the wait: the retry is due now."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_failed_video_is_delivered_signed_per_standard_webhooks(alice, receiver, enqueued,
                                                                   django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    video = _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert enqueued == [delivery.pk]  # only video.failed: the endpoint did not ask for session.error

    assert services.delivery_attempt(delivery.pk) is None
    (request,) = receiver.requests
    body = Webhook(endpoint.secret).verify(request.body, request.headers)  # the official verifier
    assert body["type"] == "video.failed"
    assert body["data"]["video_id"] == video.public_id and body["data"]["status"] == "failed"
    assert body["data"]["error"] == "The vendor refused the prompt."
    assert request.headers["webhook-id"] == delivery.message.public_id
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook(services.signing_secret_get(user=alice)).verify(request.body, request.headers)  # other key
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempt_count == 1
    attempt = delivery.attempts.get()
    assert attempt.status_code == 200 and attempt.succeeded and attempt.response_excerpt == "ok"


def test_the_session_event_carries_the_session_as_the_api_returns_it(alice, alice_api, receiver, enqueued,
                                                                      django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["session.error"])
    video = _fail_video(alice, django_capture_on_commit_callbacks)
    services.delivery_attempt(Delivery.objects.get(endpoint=endpoint).pk)
    body = Webhook(endpoint.secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
    api_session = alice_api.get(f"/videos/sessions/{video.session.public_id}").json()["session"]
    assert body["type"] == "session.error"
    assert body["data"] == api_session


def test_5xx_is_retried_with_growing_backoff_then_delivered(alice, receiver, enqueued,
                                                             django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    receiver.reply(500, b"database down")
    receiver.reply(503)
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)

    first = services.delivery_attempt(delivery.pk)
    assert services.delivery_attempt(delivery.pk) is None  # not due yet: nothing is sent
    _due(delivery)
    second = services.delivery_attempt(delivery.pk)
    assert first == pytest.approx(5, abs=1) and second == pytest.approx(10, abs=1)
    _due(delivery)
    assert services.delivery_attempt(delivery.pk) is None

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempt_count == 3
    codes = list(delivery.attempts.order_by("id").values_list("status_code", flat=True))
    assert codes == [500, 503, 200]
    assert delivery.attempts.order_by("id").first().response_excerpt == "database down"
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and ids == {delivery.message.public_id}  # one message, three attempts
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_429_waits_as_long_as_retry_after_says(alice, receiver, enqueued, django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    receiver.reply(429, headers={"Retry-After": "120"})
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert services.delivery_attempt(delivery.pk) == pytest.approx(120, abs=2)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_error == "HTTP 429"
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=100)


def test_a_timeout_is_retried(alice, receiver, enqueued, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_TIMEOUT = 1
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    receiver.reply(200, delay=4)  # answers long after the sender stopped waiting
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert services.delivery_attempt(delivery.pk) is not None
    attempt = delivery.attempts.get()
    assert attempt.status_code is None and "timed out" in attempt.error
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_400_is_not_retried(alice, receiver, enqueued, django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    receiver.reply(400, b'{"error":"unknown event"}')
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert services.delivery_attempt(delivery.pk) is None
    _due(delivery)
    assert services.delivery_attempt(delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempt_count == 1 and len(receiver.requests) == 1
    assert "not retried" in delivery.last_error
    assert delivery.attempts.get().response_excerpt == '{"error":"unknown event"}'


def test_redirects_are_not_followed(alice, receiver, enqueued, django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    receiver.reply(302, headers={"Location": receiver.url + "/elsewhere"})
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    services.delivery_attempt(delivery.pk)
    assert [r.path for r in receiver.requests] == ["/hooks"]  # never /hooks/elsewhere
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "redirects are not followed" in delivery.last_error


def test_a_private_address_is_refused_before_any_connection(alice, enqueued, settings, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    settings.IMAGE_FETCH_ALLOW_HOSTS = []
    endpoint = services.endpoint_create(user=alice, url="https://hooks.customer.example/in", events=["video.failed"])
    asked: list[str] = []

    def resolver(host: str, port: int, **kwargs: Any) -> list[Any]:
        asked.append(host)
        return [(2, 1, 6, "", ("169.254.169.254", port))]  # the cloud metadata service

    def connect(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a refused address must never be dialled")

    monkeypatch.setattr(outbound, "resolve", resolver)
    monkeypatch.setattr(outbound, "_connect", connect)
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert services.delivery_attempt(delivery.pk) is None
    assert asked == ["hooks.customer.example"]
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error.startswith("Refused: the URL points to a private")


def test_loopback_needs_the_allow_list(alice, receiver, enqueued, settings, django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    settings.IMAGE_FETCH_ALLOW_HOSTS = []  # registered while allowed; the rule is checked again on every send
    _fail_video(alice, django_capture_on_commit_callbacks)
    services.delivery_attempt(Delivery.objects.get(endpoint=endpoint).pk)
    assert receiver.requests == []
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]  # the clearer name works as well
    assert services.url_validate(receiver.url) == receiver.url


def test_an_endpoint_failing_for_24_hours_is_disabled_and_says_why(alice, receiver, enqueued,
                                                                   django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed", "session.error"])
    for _ in range(3):
        receiver.reply(500)
    _fail_video(alice, django_capture_on_commit_callbacks)
    first, second = Delivery.objects.filter(endpoint=endpoint).order_by("id")
    services.delivery_attempt(first.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is not None
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(hours=24, minutes=1))
    services.delivery_attempt(second.pk)  # still failing, a day later
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "every delivery failed for 24 hours" in endpoint.disabled_reason and "HTTP 500" in endpoint.disabled_reason
    _due(first)
    services.delivery_attempt(first.pk)  # the pending retry is not sent to a disabled endpoint
    first.refresh_from_db()
    assert first.status == "failed" and "disabled" in first.last_error and len(receiver.requests) == 2


def test_retries_stop_24_hours_after_the_event(alice, receiver, enqueued, django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    receiver.reply(502)
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    assert services.delivery_attempt(delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error.startswith("Gave up after 24 hours")


def test_redeliver_sends_the_same_message_again(alice, receiver, enqueued, django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    receiver.reply(404)
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    services.delivery_attempt(delivery.pk)
    attempt = services.delivery_redeliver(delivery=delivery)
    assert attempt.succeeded and attempt.manual
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempt_count == 2
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
    Webhook(endpoint.secret).verify(second.body, second.headers)
    assert Attempt.objects.filter(delivery=delivery).count() == 2


def test_nothing_is_queued_without_endpoints_or_for_another_account(alice, bob, receiver, enqueued,
                                                                      django_capture_on_commit_callbacks):
    services.endpoint_create(user=bob, url=receiver.url)
    _fail_video(alice, django_capture_on_commit_callbacks)
    assert enqueued == [] and not Delivery.objects.exists()


def test_disabled_endpoints_and_unsubscribed_events_get_nothing(alice, receiver, enqueued,
                                                                 django_capture_on_commit_callbacks):
    off = services.endpoint_create(user=alice, url=receiver.url)
    services.endpoint_update(endpoint=off, enabled=False)
    services.endpoint_create(user=alice, url=receiver.url, events=["video.completed"])
    _fail_video(alice, django_capture_on_commit_callbacks)
    assert not Delivery.objects.exists()


def test_a_rolled_back_transition_emits_nothing(alice, receiver, enqueued, django_capture_on_commit_callbacks):
    services.endpoint_create(user=alice, url=receiver.url)
    session = make_session(owner=alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.event_emit(event="video.failed", obj=session.videos.get())
    assert len(callbacks) == 1  # registered for after the commit, never run inline
    assert not Delivery.objects.exists()


def test_the_payload_is_what_the_body_says(alice, receiver, enqueued, django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    _fail_video(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    services.delivery_attempt(delivery.pk)
    assert json.loads(receiver.requests[0].body) == delivery.message.payload
