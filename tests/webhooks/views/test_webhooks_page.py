"""The Webhooks pages: add an endpoint (secret once), the log, redeliver, disable, and nobody else's data."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_session
from videos import services as video_services
from webhooks import services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def test_adding_an_endpoint_shows_its_secret_once(client, alice, receiver):
    client.force_login(alice)
    r = client.post(reverse("webhooks:webhooks"), {"url": receiver.url, "description": "staging",
                                                   "events": ["video.completed"]})
    assert r.status_code == 201
    endpoint = Endpoint.objects.get(owner=alice)
    assert endpoint.events == ["video.completed"] and endpoint.description == "staging"
    assert endpoint.secret in r.content.decode()
    assert "no-store" in r.headers["Cache-Control"] or "max-age=0" in r.headers["Cache-Control"]
    page = client.get(reverse("webhooks:webhooks")).content.decode()
    assert receiver.url in page and endpoint.secret not in page
    assert endpoint.secret not in client.get(reverse("webhooks:endpoint-detail", args=[endpoint.public_id])).content.decode()


def test_the_page_shows_the_default_secret(client, alice):
    client.force_login(alice)
    assert services.signing_secret_get(user=alice) in client.get(reverse("webhooks:webhooks")).content.decode()


def test_a_private_url_is_refused_with_a_message(client, alice, settings):
    settings.IMAGE_FETCH_ALLOW_HOSTS = []
    client.force_login(alice)
    r = client.post(reverse("webhooks:webhooks"), {"url": "http://127.0.0.1:9/x"})
    assert r.status_code == 422 and b"private, local or reserved" in r.content
    assert not Endpoint.objects.exists()


def test_the_log_shows_attempts_and_redeliver_adds_one(client, alice, receiver, enqueued,
                                                       django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    session = make_session(owner=alice)
    receiver.reply(503, b"maintenance until 10:00")
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_fail(session.videos.get().pk, error="boom")
    delivery = Delivery.objects.get()
    services.delivery_attempt(delivery.pk)
    client.force_login(alice)
    page = client.get(reverse("webhooks:endpoint-detail", args=[endpoint.public_id])).content.decode()
    assert "HTTP 503" in page and "maintenance until 10:00" in page and "video.failed" in page
    assert 'hx-trigger="every 5s' in page  # pending: the log refreshes itself
    r = client.post(reverse("webhooks:delivery-redeliver", args=[delivery.public_id]), headers={"HX-Request": "true"})
    assert r.status_code == 200 and b"<html" not in r.content and b"Redelivered: HTTP 200" in r.content
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts.filter(manual=True).count() == 1
    assert len(receiver.requests) == 2


def test_a_disabled_endpoint_says_why_and_can_be_enabled_again(client, alice, receiver):
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, failing_since=timezone.now(),
        disabled_reason="Disabled automatically on 2026-11-29 10:00 UTC: every delivery failed for 24 hours (last: HTTP 500).")
    client.force_login(alice)
    page = client.get(reverse("webhooks:endpoint-detail", args=[endpoint.public_id])).content.decode()
    assert "every delivery failed for 24 hours (last: HTTP 500)" in page
    assert "every delivery failed for 24 hours" in client.get(reverse("webhooks:webhooks")).content.decode()
    client.post(reverse("webhooks:endpoint-toggle", args=[endpoint.public_id]))
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == "" and endpoint.failing_since is None


def test_another_account_gets_404_everywhere(client, alice, bob, receiver, enqueued,
                                             django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_fail(make_session(owner=alice).videos.get().pk, error="boom")
    delivery = Delivery.objects.get()
    client.force_login(bob)
    assert client.get(reverse("webhooks:endpoint-detail", args=[endpoint.public_id])).status_code == 404
    assert client.post(reverse("webhooks:endpoint-toggle", args=[endpoint.public_id])).status_code == 404
    assert client.post(reverse("webhooks:endpoint-delete", args=[endpoint.public_id])).status_code == 404
    assert client.post(reverse("webhooks:delivery-redeliver", args=[delivery.public_id])).status_code == 404
    assert receiver.url not in client.get(reverse("webhooks:webhooks")).content.decode()
    assert receiver.requests == [] and Endpoint.objects.get(pk=endpoint.pk).enabled


def test_delete(client, alice, receiver):
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    client.force_login(alice)
    r = client.post(reverse("webhooks:endpoint-delete", args=[endpoint.public_id]))
    assert r.status_code == 302 and not Endpoint.objects.exists()
