"""Webhook endpoints, the account's default signing secret, per-session callbacks, and every delivery attempt."""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.db import models

EVENTS = (
    "video.processing",
    "video.completed",
    "video.failed",
    "session.completed",
    "session.stopped",
    "session.error",
)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64 (the key is the decoded bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _public_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def new_endpoint_id() -> str:
    return _public_id("whe_")


def new_message_id() -> str:
    return _public_id("msg_")


def new_delivery_id() -> str:
    return _public_id("dlv_")


class Endpoint(models.Model):
    """A URL one account registered to receive events. Its secret signs what is sent there."""

    public_id = models.CharField(max_length=32, unique=True, default=new_endpoint_id)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2048)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)  # a subset of EVENTS, never empty
    # Kept in clear: signing needs the key itself (as every Standard Webhooks sender does). Shown once.
    secret = models.CharField(max_length=64, default=new_secret)
    # After a rotation the old secret also signs, for a day, so receivers can switch over without a gap.
    previous_secret = models.CharField(max_length=64, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)  # first failure since the last success
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return self.url


class SigningSecret(models.Model):
    """The account's default secret: it signs deliveries to per-request `callback_url`s."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                 related_name="webhook_signing_secret")
    secret = models.CharField(max_length=64, default=new_secret)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"signing secret of {self.owner_id}"  # never the secret itself


class Callback(models.Model):
    """The `callback_url` a generate/session request named: every event of that session goes there too."""

    session = models.OneToOneField("videos.GenerationSession", on_delete=models.CASCADE,
                                   related_name="webhook_callback")
    url = models.URLField(max_length=2048)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url


class Message(models.Model):
    """One event as sent: its id is the `webhook-id` header, the same on every attempt (receivers dedupe on it)."""

    public_id = models.CharField(max_length=32, unique=True, default=new_message_id)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_messages")
    event = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)  # the video or session public id
    payload = models.JSONField()  # the exact body, serialised once so every attempt signs the same bytes
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = (models.Index(fields=["created_at"], name="webhooks_message_created"),)  # for pruning

    def __str__(self) -> str:
        return f"{self.event} {self.object_id}"


class Delivery(models.Model):
    """A message on its way to one endpoint (or one callback URL), retried until it succeeds or 24 h pass."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    public_id = models.CharField(max_length=32, unique=True, default=new_delivery_id)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="deliveries")  # null: a per-request callback
    url = models.URLField(max_length=2048)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # pending: due time, or lease end while sending
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (models.Index(fields=["status", "next_attempt_at"], name="webhooks_delivery_due"),)

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery, kept for the delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    created_at = models.DateTimeField(auto_now_add=True)
    manual = models.BooleanField(default=False)  # the owner pressed "Redeliver"
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null: no HTTP answer
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"attempt {self.pk}: {self.status_code or self.error or 'no answer'}"
