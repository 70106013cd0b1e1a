"""The delivery task and the sweep: a message delivered twice sends once; lost messages are re-sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.factories import make_session
from videos import services as video_services
from webhooks import services, tasks
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery(alice: Any, receiver: Any, enqueued: list[int], django_capture_on_commit_callbacks: Any) -> Delivery:
    services.endpoint_create(user=alice, url=receiver.url, events=["video.failed"])
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_fail(make_session(owner=alice).videos.get().pk, error="boom")
    return Delivery.objects.get()


def test_a_task_delivered_twice_sends_once(delivery, receiver, monkeypatch):
    rescheduled: list[Any] = []
    monkeypatch.setattr(tasks.delivery_send_task, "apply_async", lambda *a, **k: rescheduled.append(k))
    tasks.delivery_send_task(delivery.pk)
    tasks.delivery_send_task(delivery.pk)  # acks_late redelivery
    assert len(receiver.requests) == 1 and rescheduled == []


def test_a_retry_is_rescheduled_with_its_backoff(delivery, receiver, monkeypatch):
    rescheduled: list[Any] = []
    monkeypatch.setattr(tasks.delivery_send_task, "apply_async", lambda *a, **k: rescheduled.append((a, k)))
    receiver.reply(500)
    tasks.delivery_send_task(delivery.pk)
    ((args, kwargs),) = rescheduled
    assert args == ((delivery.pk,),) and kwargs["countdown"] == pytest.approx(5, abs=1)


def test_the_sweep_resends_due_and_abandoned_deliveries_only(delivery, receiver, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(tasks.delivery_send_task, "delay", lambda pk: sent.append(pk))
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    tasks.deliveries_due_task()
    assert sent == []  # not due yet
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    tasks.deliveries_due_task()  # e.g. its worker died mid-attempt and the lease ran out
    assert sent == [delivery.pk]
    Delivery.objects.filter(pk=delivery.pk).update(status="succeeded")
    tasks.deliveries_due_task()
    assert sent == [delivery.pk]
