"""The life of one video: start (render locally or submit to the vendor), poll, store, complete or fail.

Every function takes a pk, re-reads the row and is safe to call again: Celery may deliver a message twice
(acks_late), and the periodic sweep re-sends work whose message was lost.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
import zlib
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image

from billing import services as billing
from videos import files
from videos.models import Video
from videos.providers import get_provider
from videos.providers.base import InputImage, Job, JobStatus, ProviderError, ProviderUnavailable
from videos.providers.render import RenderCancelled, probe, thumbnail_from_video
from videos.services.sessions import session_finish_if_done
from webhooks import services as webhooks

log = logging.getLogger(__name__)
SUBMITTING = "submitting"  # vendor_status while a submit is in flight: a crash there must not resubmit
QUEUED = "queued"  # pending: waiting for a slot under the vendor's concurrency cap
DISPATCHED = "dispatched"  # a slot is reserved for it; its start task submits


class Retry(Exception):
    """Ask the task to run again after `countdown` seconds (the vendor answered 429/5xx or timed out)."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


def _input(name: str) -> InputImage | None:
    if not name:
        return None
    with files.default_storage.open(name, "rb") as handle:
        data = handle.read()
    with Image.open(io.BytesIO(data)) as image:  # vetted at intake; only the header is read here
        content_type, (width, height) = Image.MIME[image.format], image.size
    return InputImage(data=data, content_type=content_type, width=width, height=height,
                      url=files.file_url(name, base=files.base_url(), ttl=48 * 3600))


def job_for_video(video: Video, *, images: bool = True) -> Job:
    """The provider's view of `video`. `images=False` skips reading the stored images (polls don't need them)."""
    params = video.params
    session_params = video.session.params if images else {}
    return Job(
        video_id=video.public_id, prompt=video.prompt, model_id=video.model.model_id,
        vendor_model=video.model.vendor_model, type=video.model.type, duration=video.duration,
        resolution=video.resolution, aspect_ratio=video.aspect_ratio, width=video.width, height=video.height,
        frame_rate=video.frame_rate, seed=params.get("seed"), strategy=params.get("strategy"),
        options=dict(params.get("options", {})), head_image=_input(session_params.get("head_image", "")),
        tail_image=_input(session_params.get("tail_image", "")),
    )


def _load(video_pk: int) -> Video | None:
    return Video.objects.select_related("session", "model", "owner").filter(pk=video_pk).first()


def video_fail(video_pk: int, *, error: str, code: str = "failed") -> None:
    """Mark failed and refund its charge exactly once (the refund key is unique). No-op on a final video."""
    with transaction.atomic():
        video = Video.objects.select_for_update().select_related("owner", "session").filter(pk=video_pk).first()
        if video is None or video.is_final:
            return
        video.status = Video.Status.FAILED
        video.error = error[:2000]
        video.error_code = code[:40]
        video.completed_at = timezone.now()
        video.next_poll_at = None
        video.save(update_fields=["status", "error", "error_code", "completed_at", "next_poll_at", "updated_at"])
        webhooks.event_emit(event="video.failed", obj=video)
        if video.credits_used > Decimal("0"):
            billing.credits_refund(user=video.owner, amount=video.credits_used, key=f"video:{video.public_id}:refund",
                                   video_id=video.public_id, session_id=video.session.public_id,
                                   note=f"refund: {code}")
        session_finish_if_done(video.session_id)  # same transaction: no poll sees a final video in a live session
        _dispatch_on_commit(video)


def _store_result(video: Video, video_path: str, thumbnail_path: str | None, last_frame_path: str | None,
                  started: float) -> None:
    """Copy the finished files into storage and complete the video (unless it was deleted or failed)."""
    info = probe(video_path)
    if thumbnail_path is None:
        thumbnail_path = video_path + ".jpg"
        thumbnail_from_video(video_path, thumbnail_path)
    base = f"videos/{video.owner_id}/{video.session.public_id}/{video.public_id}"
    names = {}
    for field, path, ext in (("file", video_path, "mp4"), ("thumbnail", thumbnail_path, "jpg"),
                             ("last_frame", last_frame_path, "png")):
        if path:
            with open(path, "rb") as handle:
                names[field] = files.file_save(f"{base}.{ext}", File(handle))
    with transaction.atomic():
        locked = Video.objects.select_for_update().filter(pk=video.pk).first()
        if locked is None or locked.is_final:
            transaction.on_commit(lambda: files.files_delete(*names.values()))
            return
        Video.objects.filter(pk=video.pk).update(
            status=Video.Status.COMPLETED, progress=100, file_size=os.path.getsize(video_path),
            width=info["width"], height=info["height"], frame_rate=round(info["frame_rate"]) or video.frame_rate,
            processing_time=round(time.monotonic() - started, 2) if started else None,
            completed_at=timezone.now(), next_poll_at=None, updated_at=timezone.now(), error="", **names,
        )
        webhooks.event_emit(event="video.completed", obj=video)
        session_finish_if_done(video.session_id)
        _dispatch_on_commit(video)


def _render_local(video: Video) -> None:
    provider = get_provider("local")
    job = job_for_video(video)
    last_write = [0.0]

    def progress(pct: int) -> None:
        now = time.monotonic()
        if pct >= 100 or now - last_write[0] >= 0.5:  # at most two writes a second
            last_write[0] = now
            Video.objects.filter(pk=video.pk, status=Video.Status.PROCESSING).update(
                progress=min(pct, 99), updated_at=timezone.now())

    last_check = [0.0, False]

    def cancelled() -> bool:
        now = time.monotonic()
        if now - last_check[0] >= 0.25:  # deleted or failed (deleted session, reaper) stops the render
            last_check[0] = now
            last_check[1] = not Video.objects.filter(pk=video.pk, status=Video.Status.PROCESSING).exists()
        return bool(last_check[1])

    job.progress, job.cancelled = progress, cancelled
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="render-") as out_dir:
        try:
            result = provider.generate(job, out_dir)
        except RenderCancelled:
            log.info("render of %s cancelled", video.public_id)
            return
        _store_result(video, result.video_path, result.thumbnail_path, result.last_frame_path, started)


def _claim(video: Video, **fields: object) -> bool:
    """Move a pending video to processing; False if another run already did."""
    claimed = bool(Video.objects.filter(pk=video.pk, status=Video.Status.PENDING).update(
        status=Video.Status.PROCESSING, started_at=timezone.now(), updated_at=timezone.now(), **fields))
    if claimed:
        webhooks.event_emit(event="video.processing", obj=video)
    return claimed


def _vendor_lock(vendor: str) -> None:
    """Serialise slot accounting per vendor until the transaction ends. SQLite's IMMEDIATE transactions
    already serialise every writer; PostgreSQL takes a transaction-scoped advisory lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"vendor-slots:{vendor}".encode())])


def _free_slots(vendor: str) -> int:
    cap = settings.PROVIDER_SETTINGS.get(vendor, {}).get("max_concurrent", 5)
    return cap - Video.objects.filter(provider=vendor, status=Video.Status.PROCESSING).count()


def vendor_dispatch(vendor: str) -> list[int]:
    """Reserve free slots at `vendor` for its oldest pending videos; returns their pks, for the caller to start.

    Reserving (status processing, vendor_status "dispatched") under the vendor lock means two dispatches that
    run at once hand out each slot once, and a start task sent twice submits once.
    """
    with transaction.atomic():
        _vendor_lock(vendor)
        free = _free_slots(vendor)
        if free <= 0:
            return []
        pending = Video.objects.filter(provider=vendor, status=Video.Status.PENDING).order_by("created_at", "id")
        pks = list(pending.values_list("pk", flat=True)[:free])
        Video.objects.filter(pk__in=pks, status=Video.Status.PENDING).update(
            status=Video.Status.PROCESSING, vendor_status=DISPATCHED, started_at=timezone.now(),
            updated_at=timezone.now())
        for video in Video.objects.filter(pk__in=pks):
            webhooks.event_emit(event="video.processing", obj=video)
    return pks


def _dispatch_on_commit(video: Video) -> None:
    """A vendor slot frees when a video ends: start whoever waits for it."""
    if video.provider == "local":
        return
    from videos.tasks import vendor_dispatch_task

    vendor_dispatch_task.delay_on_commit(video.provider)


def video_start(video_pk: int) -> float | None:
    """Start making the video. Returns seconds until the first poll for vendor jobs, else None.

    At the vendor's concurrency cap the video stays pending (vendor_status "queued") and nothing is retried:
    `vendor_dispatch` starts it when a slot frees. Raises Retry when the vendor is busy (429/5xx, timeout).
    """
    video = _load(video_pk)
    if video is None or video.is_final:
        return None
    provider = get_provider(video.provider)
    if provider.synchronous:
        if video.status == Video.Status.PENDING:
            _claim(video)
        _render_local(video)  # a redelivered message after a crash renders again: local work is free
        return None
    if video.vendor_task_id:
        return None  # already submitted: its poll chain (or the sweep) takes it from here
    if video.vendor_status == SUBMITTING:
        # A previous run crashed while submitting: the vendor may have the job. Never submit twice.
        video_fail(video.pk, error="Submission to the vendor was interrupted; not resubmitted.", code="interrupted")
        return None
    with transaction.atomic():
        _vendor_lock(video.provider)  # count-and-claim as one step: two workers can't both take the last slot
        # A slot reserved by vendor_dispatch, or a free one; else wait, queued, until dispatch calls.
        claimed = Video.objects.filter(pk=video.pk, status=Video.Status.PROCESSING, vendor_status=DISPATCHED,
                                       vendor_task_id="").update(vendor_status=SUBMITTING, updated_at=timezone.now())
        if not claimed and video.status == Video.Status.PENDING:
            if _free_slots(video.provider) <= 0:
                Video.objects.filter(pk=video.pk, status=Video.Status.PENDING).update(vendor_status=QUEUED)
                return None
            claimed = _claim(video, vendor_status=SUBMITTING)
        if not claimed:
            return None  # another run has it
    try:
        task_id = provider.submit(job_for_video(video))
    except ProviderUnavailable as e:
        if e.maybe_submitted:  # the vendor may have the job: never risk a second one
            video_fail(video.pk, error=f"{e.message}; not resubmitted to avoid a duplicate.", code="interrupted")
            return None
        Video.objects.filter(pk=video.pk).update(status=Video.Status.PENDING, vendor_status="", started_at=None,
                                                 attempts=video.attempts + 1, error=e.message[:2000])
        if video.attempts + 1 >= 6:
            video_fail(video.pk, error=e.message, code=e.code)
            return None
        raise Retry(countdown=e.retry_after if e.retry_after is not None else min(300, 5 * 2 ** video.attempts)) from e
    except ProviderError as e:
        video_fail(video.pk, error=e.message, code=e.code)
        return None
    Video.objects.filter(pk=video.pk).update(
        vendor_task_id=task_id[:255], vendor_status="submitted", error="", attempts=0,
        next_poll_at=timezone.now() + timedelta(seconds=provider.poll_interval), updated_at=timezone.now())
    return provider.poll_interval


def video_poll(video_pk: int) -> float | None:
    """Poll the vendor once. Returns seconds until the next poll, or None when the video is final."""
    video = _load(video_pk)
    if video is None or video.is_final or not video.vendor_task_id:
        return None
    provider = get_provider(video.provider)
    early = (video.next_poll_at - timezone.now()).total_seconds() if video.next_poll_at else 0.0
    if early > provider.poll_interval / 2:
        return None  # a duplicate (the sweep re-sent it): the chain that set next_poll_at polls then
    if video.deadline_at and timezone.now() > video.deadline_at:
        video_fail(video.pk, error="The vendor did not finish in time.", code="timeout")
        return None
    job = job_for_video(video, images=False)  # one storage read per image at submit, not one per poll
    try:
        status = provider.poll(video.vendor_task_id, job)
    except ProviderUnavailable as e:
        return _poll_later(video, provider.poll_interval, e)
    except ProviderError as e:
        video_fail(video.pk, error=e.message, code=e.code)
        return None
    if status.state == JobStatus.FAILED:
        video_fail(video.pk, error=status.error or "The vendor failed the job.", code=status.error_code or "vendor_error")
        return None
    if status.state == JobStatus.COMPLETED:
        try:
            _download(video, provider, status, job)
        except ProviderUnavailable as e:  # CDN hiccup: the result is still there, fetch it next time
            return _poll_later(video, provider.poll_interval, e)
        return None
    delay = status.poll_after or provider.poll_interval
    Video.objects.filter(pk=video.pk).update(
        vendor_status=status.vendor_status[:64], progress=min(99, status.progress or video.progress), attempts=0,
        next_poll_at=timezone.now() + timedelta(seconds=delay), updated_at=timezone.now())
    return delay


def _poll_later(video: Video, interval: float, error: ProviderUnavailable) -> float:
    """Back off after a 429/5xx/timeout: the vendor's Retry-After, else the interval doubled per failure."""
    attempts = video.attempts + 1
    delay = error.retry_after if error.retry_after is not None else min(600.0, interval * 2**attempts)
    Video.objects.filter(pk=video.pk).update(attempts=attempts, next_poll_at=timezone.now() + timedelta(seconds=delay),
                                             updated_at=timezone.now())
    return delay


def _download(video: Video, provider: object, status: JobStatus, job: Job) -> None:
    started = time.monotonic() - ((timezone.now() - video.started_at).total_seconds() if video.started_at else 0)
    with tempfile.TemporaryDirectory(prefix="fetch-") as tmp:
        path = os.path.join(tmp, "video.mp4")
        try:
            with open(path, "wb") as dest:
                provider.download(status, job, dest)  # type: ignore[attr-defined]
            _store_result(video, path, None, None, started)
        except ProviderUnavailable:
            raise
        except ProviderError as e:  # expired URL, refused download: permanent
            video_fail(video.pk, error=e.message, code=e.code)
        except ValueError:  # probe: not a decodable video
            video_fail(video.pk, error="The vendor's result is not a playable video.", code="bad_result")
