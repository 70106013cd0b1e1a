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


# Versions for conditional GETs (dashboard.conditional): read narrow columns, never the objects. Some writes of
# these rows are QuerySet.update()s that leave updated_at alone, so the columns shown are read themselves.
_ENDPOINT_SHOWN = ("pk", "url", "description", "events", "enabled", "disabled_reason", "failing_since", "updated_at")


def endpoints_version(*, user: AbstractBaseUser) -> list[tuple[object, ...]]:
    return list(endpoints_for_user(user=user).order_by("pk").values_list(*_ENDPOINT_SHOWN))


def endpoint_version(*, user: AbstractBaseUser, public_id: str) -> tuple[object, ...]:
    row = endpoints_for_user(user=user).filter(public_id=public_id).values_list(*_ENDPOINT_SHOWN).first()
    if row is None:
        raise NotFound("Webhook endpoint not found.", field="webhook_id")
    return row


def deliveries_version(*, endpoint_pk: int, limit: int = 50) -> tuple[object, ...]:
    """The latest deliveries' shown state, and the newest attempt (attempts are only ever added)."""
    rows = list(Delivery.objects.filter(endpoint_id=endpoint_pk).order_by("-created_at", "-id").values_list(
        "pk", "status", "attempt_count", "next_attempt_at", "last_error")[:limit])
    newest = Attempt.objects.filter(delivery__endpoint_id=endpoint_pk).order_by("-pk").values_list(
        "pk", flat=True).first()
    return (*rows, newest)


def signing_secret_version(*, user: AbstractBaseUser) -> tuple[object, ...] | None:
    from webhooks.models import SigningSecret

    return SigningSecret.objects.filter(owner=user).values_list("pk", "created_at").first()
