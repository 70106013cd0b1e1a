"""Thin Celery tasks: they take ids and call idempotent services (STYLE §8).

Vendor jobs are polled by the poller process (services.poller, `manage.py pollvendors`, started beside each
worker), not by a task per poll; a finished job comes back here as `video_fetch_task` (download, store).
The periodic sweeps re-send work whose message was lost, so the database stays the source of truth.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from dashboard.health import sweep_done
from videos.models import GenerationSession, Video

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def video_start_task(video_id: int) -> None:
    """Start a video. No cache lock: the database claim (a lease) decides which delivery does the work."""
    from videos import services

    try:
        services.video_start(video_id)  # a submitted job's next_poll_at is set: the poller takes it from there
    except services.Retry as retry:
        video_start_task.apply_async((video_id,), countdown=retry.countdown)


@shared_task(acks_late=True)
def video_poll_task(video_id: int) -> None:
    """Poll one video once, if due (messages sent before the poller existed); the poller does the next polls."""
    from videos import services

    services.video_poll(video_id)


@shared_task(acks_late=True)
def video_fetch_task(video_id: int, handoff: str = "") -> None:
    """Download and store a job the poller found completed (or, sent by the sweep, one whose fetch died)."""
    from videos import services

    services.video_fetch(video_id, handoff=handoff)


@shared_task
def vendor_poll_due_task() -> int:
    """Poll what is overdue, for at most one sweep interval: the sweep's fallback when no poller keeps up."""
    from videos import services

    return services.vendor_poll_due(seconds=settings.SWEEP_INTERVAL)


@shared_task(acks_late=True)
def vendor_cancel_task(video_id: int) -> bool:
    """Cancel a stopped session's video at its vendor, where the vendor can (best effort)."""
    from videos import services

    return services.vendor_cancel(video_id)


@shared_task(acks_late=True)
def vendor_job_cancel_task(provider: str, task_id: str, job: dict) -> bool:
    """Cancel the vendor job of a deleted video (best effort)."""
    from videos import services

    return services.vendor_job_cancel(provider, task_id, job)


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
    """Tick one session if it is due. Nothing sends it any more (the scheduler claims due sessions in batches):
    it drains the countdown messages that earlier versions left in the broker."""
    from videos import services

    services.session_tick(session_id)


@shared_task
def sessions_tick_due_task() -> int:
    """The fallback driver of timed sessions: tick those the scheduler process (`manage.py ticksessions`) has left
    more than a sweep overdue, because it is down or behind. The same batches, claimed the same way (SKIP LOCKED),
    so both may run at once; it stops after a sweep interval's work, the next sweep goes on."""
    from videos.services.schedule import sessions_tick_due

    until = time.monotonic() + settings.SWEEP_INTERVAL
    ticked = 0
    while True:
        batch = sessions_tick_due(limit=settings.SESSIONS_TICK_BATCH, overdue=settings.SWEEP_INTERVAL)
        ticked += batch.claimed
        if batch.claimed < settings.SESSIONS_TICK_BATCH or time.monotonic() > until:
            break
    sweep_done("sessions_tick_due")
    return ticked


@shared_task
def videos_poll_due_task() -> int:
    """Re-send work whose message was lost or whose worker died: the database is the source of truth.

    - vendor jobs whose next poll is well overdue (no poller keeps up): one bounded poll pass;
    - fetches whose lease expired (the run holding it is gone): fetched again;
    - work in hand (rendering, submitting) whose lease expired: the run holding it is gone;
    - starts whose message is stale (queued local renders, dispatched vendor slots).
    """
    from videos import lifecycle

    Stage = Video.Stage
    if ended := lifecycle.leases_of_dead_processes_end():
        log.warning("ended %d leases held by processes that are gone", ended)
    now = timezone.now()
    expired = Q(lease_until__lt=now)
    unleased = Q(lease_until__isnull=True) | expired
    # Polls are the poller's (it claims what is due, and expired leases); only when they are well overdue does
    # the sweep run a bounded pass itself. A fetch whose lease expired is re-sent at once (its run died).
    late = now - timedelta(seconds=max(30, 2 * settings.SWEEP_INTERVAL))
    overdue = Video.objects.filter(Q(stage=Stage.SUBMITTED, next_poll_at__lte=late) & unleased).exists()
    if overdue:
        vendor_poll_due_task.delay()
    polls = list(Video.objects.filter(Q(stage=Stage.STORING) & expired & ~Q(vendor_task_id=""))
                 .values_list("pk", flat=True)[:500])
    for pk in polls:
        video_fetch_task.delay(pk)
    starts = list(Video.objects.filter(
        Q(stage__in=[Stage.RENDERING, Stage.SUBMITTING]) & expired
        | Q(stage=Stage.STORING, vendor_task_id="") & expired).values_list("pk", flat=True)[:500])
    stale = now - timedelta(seconds=max(60, 4 * settings.SWEEP_INTERVAL))
    starts += list(Video.objects.filter(stage=Stage.QUEUED, provider="local", updated_at__lte=stale)
                   .values_list("pk", flat=True)[:500])
    starts += list(Video.objects.filter(stage=Stage.DISPATCHED, updated_at__lte=stale).values_list("pk", flat=True)[:500])
    for pk in starts:
        video_start_task.delay(pk)
    # Vendor videos wait for a slot; dispatch fills free slots oldest first (no per-video retry chains).
    queued = Video.objects.filter(stage=Stage.QUEUED).exclude(provider="local")
    vendors = set(queued.values_list("provider", flat=True).distinct())
    for vendor in sorted(vendors):
        vendor_dispatch_task.delay(vendor)
    sweep_done("videos_poll_due")
    return int(overdue) + len(polls) + len(starts) + len(vendors)


@shared_task
def videos_reap_task() -> int:
    """Fail and refund videos past their deadline; close sessions that have nothing left to do."""
    from videos import services

    now = timezone.now()
    overdue = list(Video.objects.filter(status__in=[Video.Status.PENDING, Video.Status.PROCESSING],
                                        deadline_at__lt=now).values_list("pk", flat=True)[:500])
    for pk in overdue:
        services.video_fail(pk, error=services.WORDS["timeout"], code="timeout", detail="past its deadline")
    idle = GenerationSession.objects.filter(status=GenerationSession.Status.RUNNING, next_run_at__isnull=True)
    for pk in idle.values_list("pk", flat=True)[:500]:
        services.session_finish_if_done(pk)
    sweep_done("videos_reap")
    return len(overdue)


@shared_task
def vendors_probe_task() -> int:
    """Probe each vendor disabled for a refused key with one cheap authenticated call; a vendor that accepts
    the key again is re-enabled (services.vendor_state). Returns how many were re-enabled."""
    from videos.services import vendor_state

    outcomes = [vendor_state.vendor_probe(vendor=v) for v in vendor_state.vendors_to_probe()]
    return outcomes.count("key accepted")
