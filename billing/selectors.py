"""Reads of the ledger, scoped to one user."""

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet, Sum

from billing.models import ApiKey, CreditEntry


def ledger_for_user(*, user: AbstractBaseUser) -> QuerySet[CreditEntry]:
    return CreditEntry.objects.filter(account__user=user).order_by("-created_at", "-id")


def ledger_totals(*, user: AbstractBaseUser) -> dict[str, float]:
    # order_by() clears the ledger's default ordering, which would otherwise join the GROUP BY (one row
    # per entry instead of one per kind, and the dict below would keep only the last of them).
    rows = ledger_for_user(user=user).order_by().values("kind").annotate(total=Sum("delta"))
    totals = {row["kind"]: row["total"] for row in rows}
    return {
        "total_granted": float(totals.get(CreditEntry.Kind.GRANT, Decimal(0))),
        "total_charged": float(-totals.get(CreditEntry.Kind.CHARGE, Decimal(0))),
        "total_refunded": float(totals.get(CreditEntry.Kind.REFUND, Decimal(0))),
    }


def api_keys_for_user(*, user: AbstractBaseUser) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(owner=user).order_by("-created_at")
