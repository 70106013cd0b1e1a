"""Reads of the ledger, scoped to one user."""

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet, Sum

from billing.models import ApiKey, CreditEntry


def ledger_for_user(*, user: AbstractBaseUser) -> QuerySet[CreditEntry]:
    return CreditEntry.objects.filter(account__user=user).order_by("-created_at", "-id")


def ledger_totals(*, user: AbstractBaseUser) -> dict[str, float]:
    rows = ledger_for_user(user=user).values("kind").annotate(total=Sum("delta"))
    totals = {row["kind"]: row["total"] for row in rows}
    return {
        "total_granted": float(totals.get(CreditEntry.Kind.GRANT, Decimal(0))),
        "total_charged": float(-totals.get(CreditEntry.Kind.CHARGE, Decimal(0))),
        "total_refunded": float(totals.get(CreditEntry.Kind.REFUND, Decimal(0))),
    }


def entry_dict(entry: CreditEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "amount": float(entry.delta),
        "balance_after": float(entry.balance_after),
        "video_id": entry.video_id or None,
        "session_id": entry.session_id or None,
        "note": entry.note,
        "created_at": entry.created_at.isoformat().replace("+00:00", "Z"),
    }


def api_keys_for_user(*, user: AbstractBaseUser) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(owner=user).order_by("-created_at")
