"""Vendor health and queue estimates, read from the database (selectors: no writes).

- `vendors_health()`: per vendor, jobs in flight against its cap, queued, success rate and median time to
  complete over the last hour, the last error class and the auth state. A few aggregate queries, cached
  for HEALTH_TTL seconds (the model list is public and must stay fast); an auth state change drops it.
- `videos_queue()`: queue position and ETA of a page of videos in one query.
- `model_availability()`: live / simulated / unavailable for one catalog model, with the vendor's auth
  state and the model's lifecycle taken into account.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, FloatField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from videos.models import VendorState, Video, VideoModel
from videos.providers import LIVE, UNAVAILABLE, _registry, availability

HEALTH_KEY = "videos:vendor-health:v1"
HEALTH_TTL = 10  # seconds
WINDOW = timedelta(hours=1)
Stage = Video.Stage
IN_SLOT = (Stage.DISPATCHED, Stage.SUBMITTING, Stage.SUBMITTED, Stage.STORING)  # as services.dispatch counts
WORKING = (*IN_SLOT, Stage.RENDERING)


class Median(Aggregate):
    """PostgreSQL's exact median."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass(frozen=True)
class VendorHealth:
    vendor: str
    in_flight: int  # jobs holding one of its slots (or rendering, for the local renderer)
    capacity: int | None  # its concurrency cap; None for the local renderer
    queued: int  # charged videos waiting for a slot
    finished_last_hour: int
    success_rate: float | None  # completed / (completed + failed) over the last hour; None without any
    median_seconds: float | None  # median start-to-stored time of the last hour's completed videos
    last_error_class: str | None  # our error code of its last failure (auth, vendor_unavailable, …)
    last_error_at: datetime | None
    auth_state: str  # ok | failing | disabled | not_configured
    auth_failures: int


def capacity(vendor: str) -> int | None:
    if vendor == "local":
        return None
    return int(settings.PROVIDER_SETTINGS.get(vendor, {}).get("max_concurrent", 5))


def vendor_names() -> list[str]:
    return sorted(_registry())


def health_forget() -> None:
    cache.delete(HEALTH_KEY)


def _medians(since: datetime) -> dict[str, float]:
    done = Video.objects.filter(stage=Stage.DONE, completed_at__gte=since, processing_time__isnull=False).order_by()
    if connection.vendor == "postgresql":
        rows = done.values("provider").annotate(m=Median("processing_time")).values_list("provider", "m")
        return {p: float(m) for p, m in rows if m is not None}
    times: dict[str, list[float]] = {}
    for provider, seconds in done.values_list("provider", "processing_time"):
        if seconds is not None:  # filtered above; the guard tells the type checker
            times.setdefault(provider, []).append(seconds)
    return {p: statistics.median(v) for p, v in times.items()}


def _compute() -> dict[str, VendorHealth]:
    since = timezone.now() - WINDOW
    counts = {(p, s): n for p, s, n in Video.objects.filter(stage__in=(*WORKING, Stage.QUEUED)).order_by()
              .values("provider", "stage").annotate(n=Count("id")).values_list("provider", "stage", "n")}
    finished = {row["provider"]: row for row in Video.objects.filter(
        completed_at__gte=since, stage__in=(Stage.DONE, Stage.FAILED)).order_by().values("provider").annotate(
        done=Count("id", filter=Q(stage=Stage.DONE)), failed=Count("id", filter=Q(stage=Stage.FAILED)))}
    medians = _medians(since)
    states = {s.vendor: s for s in VendorState.objects.all()}
    out = {}
    for vendor in vendor_names():
        state = states.get(vendor)
        row = finished.get(vendor, {"done": 0, "failed": 0})
        total = row["done"] + row["failed"]
        if vendor != "local" and availability(vendor) != LIVE:
            auth = "not_configured"
        else:
            auth = state.auth_state if state else VendorState.Auth.OK
        out[vendor] = VendorHealth(
            vendor=vendor, in_flight=sum(counts.get((vendor, s), 0) for s in WORKING),
            capacity=capacity(vendor), queued=counts.get((vendor, Stage.QUEUED), 0), finished_last_hour=total,
            success_rate=round(row["done"] / total, 4) if total else None,
            median_seconds=round(medians[vendor], 1) if vendor in medians else None,
            last_error_class=(state.last_error_class or None) if state else None,
            last_error_at=state.last_error_at if state else None, auth_state=auth,
            auth_failures=state.auth_failures if state else 0,
        )
    return out


def vendors_health(*, fresh: bool = False) -> dict[str, VendorHealth]:
    """Health of every registered vendor (and the local renderer), at most HEALTH_TTL seconds old."""
    if not fresh and (cached := cache.get(HEALTH_KEY)) is not None:
        return {v: VendorHealth(**h) for v, h in cached.items()}
    health = _compute()
    cache.set(HEALTH_KEY, {v: asdict(h) for v, h in health.items()}, HEALTH_TTL)
    return health


def vendor_disabled(vendor: str) -> bool:
    """Exact (not cached): the create path must refuse from the first request after the vendor is disabled."""
    return VendorState.objects.filter(vendor=vendor, auth_state=VendorState.Auth.DISABLED).exists()


def model_availability(model: VideoModel, *, health: dict[str, VendorHealth] | None = None) -> str:
    """live: its vendor makes it; simulated: the local renderer stands in (no credentials set); unavailable:
    disabled by the operator, its vendor refuses our key (auto-disabled), or shut down by the vendor while
    we would call it live. A shut-down model with no key set still renders simulated (marked so): the
    simulation shows what the API does, and nothing is sent to, or charged by, a vendor."""
    if not model.enabled:
        return UNAVAILABLE
    state = availability(model.provider)
    if state != LIVE or model.provider == "local":
        return state
    if model.lifecycle == VideoModel.Lifecycle.SHUT_DOWN:
        return UNAVAILABLE
    if health is not None:
        disabled = health.get(model.provider) is not None and health[model.provider].auth_state == "disabled"
    else:
        disabled = vendor_disabled(model.provider)
    return UNAVAILABLE if disabled else LIVE


@dataclass(frozen=True)
class QueueSpot:
    position: int | None  # 1 = next to start; 0 = being made; None = finished
    eta_seconds: int | None  # until the file is stored, from the vendor's recent median; None when unknown


def _eta(video: Video, position: int, health: VendorHealth | None, now: datetime) -> int | None:
    if health is None or health.median_seconds is None:
        return None
    median = health.median_seconds
    if position == 0:  # being made: what the median leaves; overdue is unknown, not "any second now"
        left = median - (now - (video.started_at or video.created_at)).total_seconds()
        return math.ceil(left) if left > 0 else None
    if health.capacity is None:
        return None  # the local renderer's queue is the worker pool's: no cap to reason with
    free = max(0, health.capacity - health.in_flight)
    waves = 0 if position <= free else math.ceil((position - free) / health.capacity)
    return math.ceil(median * (waves + 1))


def videos_queue(videos: Iterable[Video], *, ahead: dict[int, int] | None = None) -> dict[int, QueueSpot]:
    """Queue position and ETA for each video (by pk): one query for the queued ones, whatever their number.
    `ahead`: the queued videos ahead of each queued one, when the caller has read them already (no query)."""
    videos = list(videos)
    queued = [v.pk for v in videos if v.stage == Stage.QUEUED]
    if ahead is not None:
        ahead = {pk: n for pk, n in ahead.items() if n is not None}
    elif queued:
        before = (Video.objects.filter(provider=OuterRef("provider"), stage=Stage.QUEUED)
                  .filter(Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"),
                                                                         id__lt=OuterRef("id")))
                  .order_by().values("provider").annotate(n=Count("id")).values("n"))
        ahead = dict(Video.objects.filter(pk__in=queued).annotate(ahead=Coalesce(Subquery(before), 0))
                     .values_list("pk", "ahead"))
    else:
        ahead = {}
    final = (Stage.DONE, Stage.FAILED, Stage.CANCELLED)
    health = vendors_health() if any(v.stage not in final for v in videos) else {}
    now = timezone.now()
    spots = {}
    for video in videos:
        if video.stage in final:
            spots[video.pk] = QueueSpot(None, None)
            continue
        position = ahead.get(video.pk, 0) + 1 if video.stage == Stage.QUEUED else 0
        spots[video.pk] = QueueSpot(position, _eta(video, position, health.get(video.provider), now))
    return spots


__all__ = ["QueueSpot", "VendorHealth", "model_availability", "vendor_disabled", "vendors_health",
           "videos_queue"]
