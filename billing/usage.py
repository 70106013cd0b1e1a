"""Reads for the usage page: where the credits went (per day, model, API key) and how each vendor did.

Spending comes from the ledger, so deleted videos still count: a charge row's `video_id` and `session_id` are
kept after deletion, and its note starts with the model id. Outcomes and times come from the videos that exist.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from billing.models import CreditEntry
from billing.selectors import ledger_for_user

NOT_A_VENDOR_FAILURE = {"cancelled", "deleted"}  # the user stopped it: says nothing about the vendor


def _day(value: datetime) -> date:
    return timezone.localtime(value).date()


def _spend_rows(user: AbstractBaseUser, since: datetime) -> list[CreditEntry]:
    kinds = [CreditEntry.Kind.CHARGE, CreditEntry.Kind.REFUND]
    return list(ledger_for_user(user=user).filter(kind__in=kinds, created_at__gte=since).order_by("created_at", "id"))


def _models_of(user: AbstractBaseUser, rows: list[CreditEntry]) -> dict[str, str]:
    """video public id -> model id: from the video when it exists, else from its charge's note."""
    from videos.models import Video

    ids = {r.video_id for r in rows if r.video_id}
    found = dict(Video.objects.filter(owner=user, public_id__in=ids).values_list("public_id", "model__model_id"))
    for row in rows:
        if row.kind == CreditEntry.Kind.CHARGE and row.video_id and row.video_id not in found and row.note:
            found[row.video_id] = row.note.split(",", 1)[0].strip()
    return found


def _keys_of(user: AbstractBaseUser, rows: list[CreditEntry]) -> dict[str, str]:
    """session public id -> "mcp_abcd1234… (name)" or "Dashboard"."""
    from videos.models import GenerationSession

    ids = {r.session_id for r in rows if r.session_id}
    labels = {}
    sessions = GenerationSession.objects.filter(owner=user, public_id__in=ids).select_related("api_key")
    for session in sessions:
        key = session.api_key
        labels[session.public_id] = f"{key.prefix}… ({key.name or 'unnamed'})" if key else "Dashboard"
    return labels


def _net(groups: dict[str, Decimal]) -> list[dict[str, Any]]:
    items = sorted(groups.items(), key=lambda item: (-item[1], item[0]))
    return [{"label": label, "credits": float(amount)} for label, amount in items if amount]


def usage_for_user(*, user: AbstractBaseUser, days: int = 30) -> dict[str, Any]:
    """Net credits spent (charges less refunds) per day, per model and per API key over the last `days` days,
    and per vendor the share of finished videos that completed and their median processing time."""
    from videos.models import Video

    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    rows = _spend_rows(user, since)
    models, keys = _models_of(user, rows), _keys_of(user, rows)
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    per_model: dict[str, Decimal] = defaultdict(Decimal)
    per_key: dict[str, Decimal] = defaultdict(Decimal)
    charged = refunded = Decimal(0)
    for row in rows:
        spent = -row.delta  # a charge is negative in the ledger; a refund gives back
        if row.kind == CreditEntry.Kind.CHARGE:
            charged += spent
        else:
            refunded -= spent
        per_day[_day(row.created_at)] += spent
        per_model[models.get(row.video_id, "other")] += spent
        key = keys.get(row.session_id, "Deleted sessions") if row.session_id else "Other"
        per_key[key] += spent

    vendors: dict[str, dict[str, Any]] = {}
    finished = Video.objects.filter(owner=user, created_at__gte=since, status__in=Video.FINAL)
    for provider, status, code, seconds in finished.values_list("provider", "status", "error_code",
                                                             "processing_time"):
        stats = vendors.setdefault(provider, {"completed": 0, "failed": 0, "times": []})
        if status == Video.Status.COMPLETED:
            stats["completed"] += 1
            if seconds is not None:
                stats["times"].append(seconds)
        elif code not in NOT_A_VENDOR_FAILURE:
            stats["failed"] += 1
    by_vendor = []
    for provider, stats in sorted(vendors.items()):
        total = stats["completed"] + stats["failed"]
        if not total:
            continue
        by_vendor.append({
            "vendor": provider, "completed": stats["completed"], "failed": stats["failed"],
            "success_rate": round(100 * stats["completed"] / total, 1),
            "median_seconds": round(statistics.median(stats["times"]), 1) if stats["times"] else None,
        })
    return {
        "days": days,
        "first_day": first.isoformat(),
        "per_day": [{"day": (first + timedelta(days=i)).isoformat(), "credits": float(per_day[first + timedelta(days=i)])}
                    for i in range(days)],
        "by_model": _net(per_model),
        "by_key": _net(per_key),
        "by_vendor": by_vendor,
        "charged": float(charged),
        "refunded": float(refunded),
        "spent": float(charged - refunded),
    }
