"""Rotating an endpoint's secret: the new one is shown once; for 24 h both sign, so receivers switch without a gap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.factories import make_session
from videos import services as video_services
from webhooks import services
from webhooks.models import Delivery, Endpoint, Message

pytestmark = pytest.mark.django_db


def _deliver_one(alice, receiver, capture) -> None:
    with capture(execute=True):
        video_services.video_fail(make_session(owner=alice).videos.get().pk, error="boom")
    for delivery in Delivery.objects.filter(status="pending"):
        services.delivery_attempt(delivery.pk)


def test_both_secrets_verify_during_the_rotation_then_only_the_new_one(alice, receiver, enqueued,
                                                                       django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    old = endpoint.secret
    new = services.endpoint_secret_rotate(endpoint=endpoint).secret
    assert new != old and new.startswith("whsec_")
    _deliver_one(alice, receiver, django_capture_on_commit_callbacks)
    request = receiver.requests[-1]
    Webhook(new).verify(request.body, request.headers)
    Webhook(old).verify(request.body, request.headers)  # the receiver has not switched yet: still fine

    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    _deliver_one(alice, receiver, django_capture_on_commit_callbacks)
    request = receiver.requests[-1]
    Webhook(new).verify(request.body, request.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(old).verify(request.body, request.headers)


def test_rotate_through_the_api_and_the_page(alice, alice_api, bob_api, client, receiver):
    wid = alice_api.post("/webhooks", {"url": receiver.url}).json()["id"]
    assert bob_api.post(f"/webhooks/{wid}/secret/rotate").status_code == 404
    r = alice_api.post(f"/webhooks/{wid}/secret/rotate")
    assert r.status_code == 200 and r.json()["secret"] == Endpoint.objects.get(public_id=wid).secret
    client.force_login(alice)
    page = client.post(reverse("webhooks:endpoint-secret-rotate", args=[wid]))
    secret = Endpoint.objects.get(public_id=wid).secret
    assert page.status_code == 200 and secret in page.content.decode() and secret != r.json()["secret"]
    assert secret not in client.get(reverse("webhooks:endpoint-detail", args=[wid])).content.decode()


def test_old_messages_are_pruned_but_not_pending_ones(alice, receiver, enqueued, settings,
                                                      django_capture_on_commit_callbacks):
    services.endpoint_create(user=alice, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_fail(make_session(owner=alice).videos.get().pk, error="boom")
    done, pending = Message.objects.order_by("id")
    services.delivery_attempt(done.deliveries.get().pk)
    Message.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert services.messages_prune() == 1
    assert list(Message.objects.all()) == [pending]
