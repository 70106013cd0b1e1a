"""API keys and the credits ledger.

The ledger (CreditEntry) is append-only: every change of a balance is one row with a unique `key`, so a
retried grant, charge or refund is a no-op. CreditAccount.balance is kept in lock-step with the ledger in
the same transaction, under a row lock, and a check constraint makes a negative balance impossible.
"""

import hashlib
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class ApiKey(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)  # "mcp_" + 8 chars: shown, looked up
    digest = models.CharField(max_length=64, editable=False)  # SHA-256 of the whole key; the key is never stored
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def digest_of(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()


class CreditAccount(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_account")
    balance = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"), editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="credit_balance_not_negative")]

    def __str__(self) -> str:
        return f"{self.user} — {self.balance} credits"


class CreditEntry(models.Model):
    class Kind(models.TextChoices):
        GRANT = "grant"
        CHARGE = "charge"
        REFUND = "refund"

    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    delta = models.DecimalField(max_digits=14, decimal_places=2)
    balance_after = models.DecimalField(max_digits=14, decimal_places=2)
    key = models.CharField(max_length=120, unique=True)  # idempotency: one row per grant/charge/refund
    video_id = models.CharField(max_length=40, blank=True, db_index=True)  # public id; survives deletion
    session_id = models.CharField(max_length=40, blank=True, db_index=True)  # sessions sum their rows
    note = models.CharField(max_length=255, blank=True)
    created_by = models.CharField(max_length=150, blank=True)  # operator username for grants
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "credit entries"
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="charge", delta__lt=0) | Q(kind__in=["grant", "refund"], delta__gt=0)),
                name="credit_entry_sign_matches_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.delta} ({self.key})"


class RateCounter(models.Model):
    """Creations per API key per minute: one row per (key, minute), bumped by a single atomic upsert, so the
    limit holds on every database and cache backend (a cache's add + incr is not atomic on the file cache)."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    minute = models.BigIntegerField()  # Unix time // 60
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "minute"], name="rate_counter_one_per_minute")]

    def __str__(self) -> str:
        return f"{self.api_key_id}@{self.minute}: {self.hits}"
