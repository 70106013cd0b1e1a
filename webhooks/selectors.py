"""Reads of the webhooks app, always scoped to one account."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet

from videos.exceptions import NotFound
from webhooks.models import Attempt, Delivery, Endpoint


def endpoints_for_user(*, user: AbstractBaseUser) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(owner=user)


def endpoint_get(*, user: AbstractBaseUser, public_id: str) -> Endpoint:
    endpoint = endpoints_for_user(user=user).filter(public_id=public_id).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.", field="webhook_id")
    return endpoint


def deliveries_for_endpoint(*, endpoint: Endpoint, limit: int = 50) -> list[Delivery]:
    """The endpoint's latest deliveries, newest first, each with its attempts (newest first)."""
    attempts = Prefetch("attempts", queryset=Attempt.objects.order_by("-created_at", "-id"))
    qs = endpoint.deliveries.select_related("message").prefetch_related(attempts)
    return list(qs.order_by("-created_at", "-id")[:limit])


def callback_deliveries_for_user(*, user: AbstractBaseUser, limit: int = 50) -> list[Delivery]:
    """Deliveries to per-request `callback_url`s, newest first."""
    attempts = Prefetch("attempts", queryset=Attempt.objects.order_by("-created_at", "-id"))
    qs = Delivery.objects.filter(message__owner=user, endpoint=None).select_related("message")
    return list(qs.prefetch_related(attempts).order_by("-created_at", "-id")[:limit])


def delivery_get(*, user: AbstractBaseUser, public_id: str) -> Delivery:
    delivery = Delivery.objects.filter(message__owner=user, public_id=public_id).select_related(
        "message", "endpoint").first()
    if delivery is None:
        raise NotFound("Delivery not found.", field="delivery_id")
    return delivery
