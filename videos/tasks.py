"""Thin Celery tasks: they take ids and call idempotent services (STYLE §8).

Polling never sleeps in a worker: a task polls once and schedules its next run with a countdown.
The periodic sweeps re-send work whose message was lost, so the database stays the source of truth.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import timedelta
from collections.abc import Iterator

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from dashboard.health import sweep_done
from videos.models import GenerationSession, Video

log = logging.getLogger(__name__)


@contextmanager
def single_flight(name: str, timeout: int) -> Iterator[bool]:
    """True for the one holder of `name` (cache.add is atomic), False for anyone else meanwhile."""
    acquired = cache.add(f"lock:{name}", 1, timeout)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(f"lock:{name}")


@shared_task(acks_late=True)
def video_start_task(video_id: int) -> None:
    from videos import services

    with single_flight(f"video-start:{video_id}", settings.CELERY_TASK_TIME_LIMIT) as mine:
        if not mine:
            return
        try:
            next_poll = services.video_start(video_id)
        except services.Retry as retry:
            video_start_task.apply_async((video_id,), countdown=retry.countdown)
            return
    if next_poll is not None:
        video_poll_task.apply_async((video_id,), countdown=next_poll)


@shared_task(acks_late=True)
def video_poll_task(video_id: int) -> None:
    from videos import services

    with single_flight(f"video-poll:{video_id}", 300) as mine:
        if not mine:
            return
        delay = services.video_poll(video_id)
    if delay is not None:
        video_poll_task.apply_async((video_id,), countdown=delay)


@shared_task(acks_late=True)
def vendor_dispatch_task(vendor: str) -> int:
    """Start the oldest videos waiting for a slot at `vendor` (sent when a slot frees, and by the sweep)."""
    from videos import services

    pks = services.vendor_dispatch(vendor)
    for pk in pks:
        video_start_task.delay(pk)
    return len(pks)


@shared_task(acks_late=True)
def session_tick_task(session_id: int) -> None:
    from videos import services

    services.session_tick(session_id)


@shared_task
def sessions_tick_due_task() -> int:
    """Tick running sessions whose next video is overdue (their scheduled message was lost)."""
    grace = timezone.now() - timedelta(seconds=settings.SWEEP_INTERVAL)
    due = list(GenerationSession.objects.filter(
        status=GenerationSession.Status.RUNNING, next_run_at__lte=grace).values_list("pk", flat=True)[:500])
    for pk in due:
        session_tick_task.delay(pk)
    sweep_done("sessions_tick_due")
    return len(due)


@shared_task
def videos_poll_due_task() -> int:
    """Re-send polls and starts that are overdue: lost messages repair themselves here."""
    now = timezone.now()
    polls = list(Video.objects.filter(status=Video.Status.PROCESSING, next_poll_at__lte=now - timedelta(seconds=30))
                 .exclude(vendor_task_id="").values_list("pk", flat=True)[:500])
    for pk in polls:
        video_poll_task.delay(pk)
    stale = now - timedelta(seconds=max(60, 4 * settings.SWEEP_INTERVAL))
    pending = Video.objects.filter(status=Video.Status.PENDING)
    starts = list(pending.filter(provider="local", updated_at__lte=stale).values_list("pk", flat=True)[:500])
    # Slots reserved by a dispatch whose start message was lost.
    starts += list(Video.objects.filter(status=Video.Status.PROCESSING, vendor_status="dispatched",
                                        updated_at__lte=stale).values_list("pk", flat=True)[:500])
    for pk in starts:
        video_start_task.delay(pk)
    # Vendor videos wait for a slot; dispatch fills free slots oldest first (no per-video retry chains).
    vendors = set(pending.exclude(provider="local").values_list("provider", flat=True).distinct())
    for vendor in sorted(vendors):
        vendor_dispatch_task.delay(vendor)
    sweep_done("videos_poll_due")
    return len(polls) + len(starts) + len(vendors)


@shared_task
def videos_reap_task() -> int:
    """Fail and refund videos past their deadline; close sessions that have nothing left to do."""
    from videos import services

    now = timezone.now()
    overdue = list(Video.objects.filter(status__in=[Video.Status.PENDING, Video.Status.PROCESSING],
                                        deadline_at__lt=now).values_list("pk", flat=True)[:500])
    for pk in overdue:
        services.video_fail(pk, error="Timed out: no result before the deadline.", code="timeout")
    idle = GenerationSession.objects.filter(status=GenerationSession.Status.RUNNING, next_run_at__isnull=True)
    for pk in idle.values_list("pk", flat=True)[:500]:
        services.session_finish_if_done(pk)
    sweep_done("videos_reap")
    return len(overdue)
