"""How far behind the background work is, read from the database (selectors: no writes), whatever the processes'
heartbeats say: the most overdue due session (the session scheduler's work) and the most overdue vendor status poll
(the vendor poller's). One aggregate query each, on the indexed `next_run_at` / `next_poll_at`: both walk only the
rows already due, which a healthy scheduler or poller keeps near zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from videos.models import GenerationSession, Video


@dataclass(frozen=True)
class Overdue:
    """`due`: rows whose time has come; `lag_seconds`: how late the oldest of them is (0 when none is due)."""

    due: int
    lag_seconds: float


def _overdue(rows: QuerySet, column: str, now: datetime) -> Overdue:
    found = rows.order_by().aggregate(due=Count("pk"), oldest=Min(column))
    oldest = found["oldest"]
    return Overdue(due=found["due"], lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


def sessions_overdue(*, now: datetime | None = None) -> Overdue:
    """Running timed sessions whose next video is due (next_run_at <= now), and how late the oldest is."""
    now = now or timezone.now()
    rows = GenerationSession.objects.filter(status=GenerationSession.Status.RUNNING, next_run_at__lte=now)
    return _overdue(rows, "next_run_at", now)


def polls_overdue(*, now: datetime | None = None) -> Overdue:
    """Jobs at a vendor (stage submitted) whose next status poll is due, and how late the oldest is. A poll in hand
    counts until its answer is written: a vendor that is slow to answer makes it late too."""
    now = now or timezone.now()
    rows = Video.objects.filter(stage=Video.Stage.SUBMITTED, next_poll_at__lte=now).exclude(vendor_task_id="")
    return _overdue(rows, "next_poll_at", now)
