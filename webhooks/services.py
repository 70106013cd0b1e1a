"""Writes of the webhooks app: endpoints, callbacks, emitting events, and delivering them (one attempt at a time)."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from videos.exceptions import InvalidInput
from videos.models import GenerationSession, Video
from webhooks import outbound, signing
from webhooks.models import EVENTS, Attempt, Callback, Delivery, Endpoint, Message, SigningSecret, new_secret
from webhooks.payloads import object_load, object_payload

log = logging.getLogger(__name__)
RETRY_WINDOW = timedelta(hours=24)  # retries stop, and an endpoint failing this long is disabled
MAX_BACKOFF = 3600.0  # seconds between two automatic attempts, at most
FIRST_BACKOFF = 5.0
MAX_ENDPOINTS = 20  # per account: each event is one POST per endpoint


def _timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT", 10))


def _lease() -> timedelta:
    """How long a claimed attempt may take before the sweep may try again (the POST is bounded by 2×timeout)."""
    return timedelta(seconds=2 * _timeout() + 30)


# --- endpoints -------------------------------------------------------------------------------------------------

def url_validate(url: str, *, field: str = "url") -> str:
    try:
        return outbound.url_check(url)
    except outbound.UrlRefused as exc:
        raise InvalidInput(f"{field}: {exc.message}", field=field, code="invalid_url") from None


def events_validate(events: list[str] | None) -> list[str]:
    """The events asked for, in canonical order; None or empty means every event."""
    if not events:
        return list(EVENTS)
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise InvalidInput(f"events: unknown event {unknown[0]!r}; choose from {', '.join(EVENTS)}.",
                           field="events", code="invalid_event")
    return [e for e in EVENTS if e in events]


def endpoint_create(*, user: AbstractBaseUser, url: str, events: list[str] | None = None,
                    description: str = "") -> Endpoint:
    """Register an endpoint. Its secret is returned on the object: show it now, it is never shown again."""
    if Endpoint.objects.filter(owner=user).count() >= MAX_ENDPOINTS:
        raise InvalidInput(f"url: at most {MAX_ENDPOINTS} endpoints per account; delete one first.", field="url",
                           code="too_many_endpoints")
    return Endpoint.objects.create(owner=user, url=url_validate(url), events=events_validate(events),
                                   description=description.strip()[:200])


def endpoint_update(*, endpoint: Endpoint, url: str | None = None, events: list[str] | None = None,
                    description: str | None = None, enabled: bool | None = None) -> Endpoint:
    """Change what was given. Enabling again clears the reason it was disabled and its failure streak."""
    if url is not None:
        endpoint.url = url_validate(url)
    if events is not None:
        endpoint.events = events_validate(events)
    if description is not None:
        endpoint.description = description.strip()[:200]
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        endpoint.disabled_reason = "" if enabled else "Disabled by you."
        endpoint.failing_since = None
    endpoint.save()
    return endpoint


def endpoint_secret_rotate(*, endpoint: Endpoint) -> Endpoint:
    """A new secret (returned on the object, shown once). The old one keeps signing too for `RETRY_WINDOW`."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + RETRY_WINDOW
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    endpoint.delete()


def signing_secret_get(*, user: AbstractBaseUser) -> str:
    """The account's default signing secret (for `callback_url` deliveries), created on first use."""
    secret, _ = SigningSecret.objects.get_or_create(owner=user)
    return secret.secret


def callback_validate(url: str | None) -> str | None:
    """The `callback_url` of a request, checked (InvalidInput naming `callback_url`); None when not given."""
    return url_validate(url, field="callback_url") if url else None


def callback_register(*, session: GenerationSession, url: str | None) -> Callback | None:
    """Send every event of `session` to `url` too (signed with the account's default secret). None: nothing."""
    if not url:
        return None
    signing_secret_get(user=session.owner)  # exists before the first delivery needs it
    return Callback.objects.create(session=session, url=url_validate(url, field="callback_url"))


# --- events ----------------------------------------------------------------------------------------------------

def event_emit(*, event: str, obj: Video | GenerationSession) -> None:
    """Queue `event` about `obj` for its owner's endpoints and its session's callback, once the caller commits.

    Call it right after the transition, in the same transaction: the payload is the object as that
    transaction sees it (so a `video.processing` body says "processing" however fast the video then
    finishes), and the deliveries are created only if it commits. Costs two small queries when nobody
    listens; an error here is logged, never raised into the video's work.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    session_pk = obj.session_id if isinstance(obj, Video) else obj.pk
    targets = [(e.pk, e.url) for e in Endpoint.objects.filter(owner_id=obj.owner_id, enabled=True)
               if event in e.events]
    if callback := Callback.objects.filter(session_id=session_pk).first():
        targets.append((None, callback.url))
    if not targets:
        return  # the common case costs these two indexed reads and nothing more
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's transaction usable
            fresh = object_load("video" if isinstance(obj, Video) else "session", obj.pk)
            if fresh is None:
                return
            payload = {"type": event, "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
                       "data": object_payload(fresh)}
    except Exception:  # a webhook must never break the video's own transition
        log.exception("webhook event %s for %s could not be prepared", event, obj.pk)
        return
    transaction.on_commit(partial(_event_record, event, obj.owner_id, fresh.public_id, payload, targets),
                          robust=True)


def _event_record(event: str, owner_id: int, object_id: str, payload: dict[str, Any],
                  targets: list[tuple[int | None, str]]) -> None:
    from webhooks.tasks import delivery_send_task

    with transaction.atomic():
        message = Message.objects.create(owner_id=owner_id, event=event, object_id=object_id, payload=payload)
        for endpoint_pk, url in targets:
            delivery = Delivery.objects.create(message=message, endpoint_id=endpoint_pk, url=url,
                                               next_attempt_at=timezone.now())
            delivery_send_task.delay_on_commit(delivery.pk)


# --- delivery --------------------------------------------------------------------------------------------------

def _secrets_for(delivery: Delivery) -> list[str]:
    endpoint = delivery.endpoint
    if endpoint is None:
        return [signing_secret_get(user=delivery.message.owner)]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > timezone.now():
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt_count: int) -> float:
    """Seconds before automatic attempt `attempt_count + 1`: 5 s, 10 s, 20 s… doubling up to an hour."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, attempt_count - 1))


def _send(delivery: Delivery, *, manual: bool) -> tuple[Attempt, bool, float | None]:
    """One POST, recorded. Returns the attempt, whether a retry may help, and the receiver's Retry-After."""
    message = delivery.message
    body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = signing.signed_headers(secrets=_secrets_for(delivery), msg_id=message.public_id,
                                     timestamp=int(time.time()), body=body)
    attempt = Attempt(delivery=delivery, manual=manual)
    retryable, retry_after = False, None
    try:
        answer = outbound.post(delivery.url, body=body, headers=headers, timeout=_timeout())
    except outbound.UrlRefused as exc:
        attempt.error = f"Refused: {exc.message}"[:300]
    except outbound.SendFailed as exc:
        attempt.error = exc.message[:300]
        retryable = True
    else:
        attempt.status_code = answer.status
        attempt.latency_ms = answer.latency_ms
        attempt.response_excerpt = answer.excerpt[:1000]
        attempt.succeeded = 200 <= answer.status < 300
        if answer.status == 429 or answer.status >= 500:
            retryable = True
            retry_after = _retry_after(answer.headers.get("retry-after"))
        elif 300 <= answer.status < 400:
            attempt.error = f"HTTP {answer.status}: redirects are not followed."
        elif not attempt.succeeded:
            attempt.error = f"HTTP {answer.status}: not retried (only timeouts, 429 and 5xx are)."
    attempt.save()
    return attempt, retryable, retry_after


def _outcome(attempt: Attempt) -> str:
    return attempt.error or (f"HTTP {attempt.status_code}" if attempt.status_code else "no answer")


def _endpoint_outcome(endpoint: Endpoint | None, attempt: Attempt, now: datetime) -> None:
    """A success ends the endpoint's failure streak; 24 h of nothing but failures disables it."""
    if endpoint is None:
        return
    if attempt.succeeded:
        Endpoint.objects.filter(pk=endpoint.pk).exclude(failing_since=None).update(failing_since=None)
        return
    Endpoint.objects.filter(pk=endpoint.pk, failing_since=None).update(failing_since=now)
    reason = (f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC: every delivery failed for 24 hours "
              f"(last: {_outcome(attempt)}). Fix the endpoint, then enable it again.")[:300]
    Endpoint.objects.filter(pk=endpoint.pk, enabled=True, failing_since__lte=now - RETRY_WINDOW).update(
        enabled=False, disabled_reason=reason, updated_at=now)


def delivery_attempt(delivery_pk: int) -> float | None:
    """Make the next automatic attempt if it is due. Returns seconds until the next one, or None when done.

    Claimed in the database (a conditional UPDATE moves `next_attempt_at` a lease ahead), so a task delivered
    twice and the sweep never send the same attempt twice at once. Retries timeouts, 429 and 5xx with
    exponential backoff (or the receiver's Retry-After) until 24 h after the event; anything else is final.
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_pk, status=Delivery.Status.PENDING,
                                      next_attempt_at__lte=now).update(next_attempt_at=now + _lease())
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("message__owner", "endpoint").get(pk=delivery_pk)
    if delivery.endpoint is not None and not delivery.endpoint.enabled:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, next_attempt_at=None,
            last_error="Not sent: the endpoint is disabled.")
        return None
    attempt, retryable, retry_after = _send(delivery, manual=False)
    now = timezone.now()
    _endpoint_outcome(delivery.endpoint, attempt, now)
    fields: dict[str, Any] = {"attempt_count": F("attempt_count") + 1, "updated_at": now,
                              "last_error": "" if attempt.succeeded else _outcome(attempt)}
    give_up_at = delivery.created_at + RETRY_WINDOW
    delay = None
    if attempt.succeeded:
        fields.update(status=Delivery.Status.SUCCEEDED, next_attempt_at=None)
    elif retryable and now < give_up_at:
        delay = max(backoff(delivery.attempt_count + 1), retry_after or 0.0)
        fields["next_attempt_at"] = min(now + timedelta(seconds=delay), give_up_at)
        delay = (fields["next_attempt_at"] - now).total_seconds()
    else:
        if retryable:
            fields["last_error"] = f"Gave up after 24 hours of retries (last: {_outcome(attempt)})."[:300]
        fields.update(status=Delivery.Status.FAILED, next_attempt_at=None)
    # Conditional: a redeliver that succeeded meanwhile has settled it; this attempt only adds to the count.
    if not Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(**fields):
        Delivery.objects.filter(pk=delivery.pk).update(attempt_count=F("attempt_count") + 1)
        return None
    return delay


def delivery_redeliver(*, delivery: Delivery) -> Attempt:
    """Send the same message (same `webhook-id`, fresh timestamp and signature) once more, now, for the owner.

    A success settles the delivery and ends the endpoint's failure streak; a failure changes nothing else
    (a pending delivery keeps its retry schedule). Works on disabled endpoints too: it is how owners test a fix.
    """
    delivery = Delivery.objects.select_related("message__owner", "endpoint").get(pk=delivery.pk)
    attempt, _, _ = _send(delivery, manual=True)
    fields: dict[str, Any] = {"attempt_count": F("attempt_count") + 1, "updated_at": timezone.now()}
    if attempt.succeeded:
        fields.update(status=Delivery.Status.SUCCEEDED, next_attempt_at=None, last_error="")
        if delivery.endpoint is not None:
            Endpoint.objects.filter(pk=delivery.endpoint.pk).update(failing_since=None)
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    return attempt


def deliveries_due(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose attempt is due (or whose claimed attempt's lease ran out): for the sweep."""
    qs = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now())
    return list(qs.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def messages_prune(*, limit: int = 1000) -> int:
    """Forget messages (and their deliveries and attempts) older than `WEBHOOK_RETENTION_DAYS`, a batch at a time.

    Nothing still pending is pruned. Returns how many messages went.
    """
    cutoff = timezone.now() - timedelta(days=getattr(settings, "WEBHOOK_RETENTION_DAYS", 30))
    old = Message.objects.filter(created_at__lt=cutoff).exclude(deliveries__status=Delivery.Status.PENDING)
    pks = list(old.values_list("pk", flat=True)[:limit])
    if pks:
        Message.objects.filter(pk__in=pks).delete()
    return len(pks)
