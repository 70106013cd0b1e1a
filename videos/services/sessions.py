"""Writes for generation sessions: create, tick (make the next video when due), stop, delete, finish."""

from __future__ import annotations

import logging
import zlib
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing import services as billing
from billing.models import ApiKey, CreditEntry
from videos import files, live
from videos.exceptions import InvalidInput, UnsupportedValue
from videos.models import GenerationSession, Video
from videos.providers import LIVE, availability
from videos.schemas import GenerateIn, SessionIn
from videos.services.failover import charge_key
from videos.services.intake import VideoRequest, request_validate
from videos.spritesheet import spritesheet_name
from webhooks import services as webhooks

log = logging.getLogger(__name__)


def _image_name(session: GenerationSession, which: str, ext: str) -> str:
    return f"inputs/{session.owner_id}/{session.public_id}/{which}.{ext}"


def video_seed(session: GenerationSession, sequence: int) -> int | None:
    """The n-th video's seed: the session's own for the first, then one derived from it (or from the session
    id when the client gave none), so every video is its own generation and a fixed seed replays the session."""
    seed = session.params.get("seed")
    if sequence == 0:
        return seed
    base = str(seed) if seed is not None else session.public_id
    return zlib.crc32(f"{base}:{sequence}".encode()) & 0x7FFFFFFF


def video_new(session: GenerationSession, *, sequence: int, at_vendor: bool | None = None) -> Video:
    """The session's n-th video, not saved yet (`at_vendor`: whether its vendor is configured, if already known)."""
    model = session.model
    params = dict(session.params)
    if (seed := video_seed(session, sequence)) is not None:
        params["seed"] = seed
    if at_vendor is None:
        at_vendor = availability(model.provider) == LIVE
    return Video(
        session=session, owner_id=session.owner_id, model=model, sequence=sequence,
        provider=model.provider if at_vendor else "local", simulated=not at_vendor, prompt=session.prompt,
        params=params, duration=params["duration"], aspect_ratio=params["aspect_ratio"],
        resolution=params["resolution"], width=params["width"], height=params["height"],
        frame_rate=params["frame_rate"], credits_used=model.price_for(params["duration"]),
        deadline_at=timezone.now() + timedelta(seconds=settings.VIDEO_DEADLINE_SECONDS),
    )


def charge_note(video: Video) -> str:
    return f"{video.model.model_id}, {video.duration}s"


def _video_create(session: GenerationSession, *, sequence: int) -> Video:
    """Create the session's n-th video and charge for it (InsufficientCredits: nothing is written)."""
    with transaction.atomic():
        video = video_new(session, sequence=sequence)
        video.save(force_insert=True)
        billing.credits_charge(user=session.owner, amount=video.credits_used, key=charge_key(video.public_id, 0),
                               video_id=video.public_id, session_id=session.public_id, note=charge_note(video))
    live.changed(session.pk)  # a new video: long-polls of the session answer
    enqueue_start(video)
    return video


def enqueue_start(video: Video) -> None:
    from videos.tasks import video_start_task

    video_start_task.delay_on_commit(video.pk)


@transaction.atomic
def session_create(
    *, user: AbstractBaseUser, request: VideoRequest, kind: str = GenerationSession.Kind.SINGLE,
    max_videos: int = 1, interval_seconds: int = 60, duration_minutes: int = 30, idempotency_key: str = "",
    request_digest: str = "", api_key: ApiKey | None = None, budget_credits: Decimal | None = None,
) -> GenerationSession:
    """Create a session and its first video, charged now. Raises InsufficientCredits with nothing written.

    A timed session then makes a video every `interval_seconds` until `max_videos` or `duration_minutes`.
    """
    now = timezone.now()
    params = request.params()
    session = GenerationSession.objects.create(
        owner=user, model=request.model, kind=kind, prompt=request.prompt, params=params,
        status=GenerationSession.Status.RUNNING, max_videos=max_videos, interval_seconds=interval_seconds,
        duration_minutes=duration_minutes, ends_at=now + timedelta(minutes=duration_minutes),
        idempotency_key=idempotency_key, request_digest=request_digest, api_key=api_key,
        budget_credits=budget_credits,
    )
    stored: list[str] = []
    try:
        for which, image in (("head", request.head_image), ("tail", request.tail_image)):
            if image is not None:
                name = files.file_save(_image_name(session, which, image.extension), image.data)
                stored.append(name)
                params[f"{which}_image"] = name
        session.params = params
        session.videos_created = 1
        if max_videos > 1:
            session.next_run_at = now + timedelta(seconds=interval_seconds)
        session.save(update_fields=["params", "videos_created", "next_run_at"])
        _video_create(session, sequence=0)
    except BaseException:
        files.files_delete(*stored)  # the transaction rolls back; don't leave its files behind
        raise
    return session  # its next video is the scheduler's (videos.services.schedule): no message per session


def session_start(*, user: AbstractBaseUser, payload: GenerateIn, idempotency_key: str = "",
                  request_digest: str = "", api_key: ApiKey | None = None) -> GenerationSession:
    """Validate `payload` and create its session: timed for a SessionIn, a single video otherwise.

    The one entry point of the API and the dashboard, so both check and charge the same way.
    """
    timing: dict = {}
    if isinstance(payload, SessionIn):
        timing = {"kind": GenerationSession.Kind.TIMED, "max_videos": payload.max_videos,
                  "interval_seconds": payload.interval_seconds, "duration_minutes": payload.duration_minutes}
    request = request_validate(payload)
    if isinstance(payload, SessionIn) and payload.budget_credits is not None:
        timing["budget_credits"] = budget_validate(payload.budget_credits, request=request)
    webhooks.callback_validate(payload.callback_url)  # a bad callback_url is a 400 before anything is charged
    with transaction.atomic():  # the callback is stored with the session, before any of its events can fire
        session = session_create(user=user, request=request, idempotency_key=idempotency_key,
                                 request_digest=request_digest, api_key=api_key, **timing)
        webhooks.callback_register(session=session, url=payload.callback_url)
    return session


def budget_validate(value: float, *, request: VideoRequest) -> Decimal:
    """A session's budget in credits (to the cent, rounded down): it must pay for at least the first video."""
    budget = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    price = request.model.price_for(request.duration)
    if budget < price:
        raise UnsupportedValue(f"budget_credits must cover at least one video: {price} credits for "
                               f"{request.model.model_id} at {request.duration} s.",
                               field="budget_credits", code="budget_too_low")
    return budget


def sessions_spent(public_ids: list[str]) -> dict[str, Decimal]:
    """What each session has spent so far, from the ledger: its charges less its refunds (one query, or none)."""
    if not public_ids:
        return {}
    rows = (CreditEntry.objects.filter(session_id__in=public_ids, kind__in=(CreditEntry.Kind.CHARGE,
                                                                            CreditEntry.Kind.REFUND))
            .order_by().values("session_id").annotate(net=Sum("delta")))
    spent = {row["session_id"]: -row["net"] for row in rows}
    return {pk: spent.get(pk, Decimal(0)) for pk in public_ids}


def budget_words(budget: Decimal) -> str:
    amount = f"{budget:.2f}".removesuffix(".00")
    return f"Stopped: budget of {amount} credits reached."


def session_finish_if_done(session_pk: int) -> None:
    """Mark a running session completed (or error, if every video failed) once nothing is left to do."""
    with transaction.atomic():
        session = GenerationSession.objects.select_for_update(of=("self",)).filter(pk=session_pk).first()
        if session is None or session.is_final or session.next_run_at is not None:
            return
        statuses = list(session.videos.values_list("status", flat=True))
        if any(s not in Video.FINAL for s in statuses):
            return
        failed = statuses.count(Video.Status.FAILED)
        session.finished_at = timezone.now()
        if statuses and failed == len(statuses):
            session.status = GenerationSession.Status.ERROR
            session.error = session.videos.exclude(error="").values_list("error", flat=True).first() or "failed"
        else:
            session.status = GenerationSession.Status.COMPLETED
        session.save(update_fields=["status", "error", "finished_at", "updated_at"])
        live.changed(session.pk)
        webhooks.event_emit(event=f"session.{session.status}", obj=session)


CANCELLED_WORDS = "Cancelled: the session was stopped before this video started; your credits were refunded."


def _stop_locked(session: GenerationSession) -> list[int]:
    """Stop `session` (its row locked by the caller): no new videos, queued ones cancelled and refunded.
    Returns the videos already at a vendor, for a best-effort cancel there."""
    from videos.services.results import video_fail

    if not session.is_final:
        session.status = GenerationSession.Status.STOPPED
        session.next_run_at = None
        session.finished_at = timezone.now()
        session.save(update_fields=["status", "next_run_at", "finished_at", "updated_at"])
        live.changed(session.pk)
        webhooks.event_emit(event="session.stopped", obj=session)
    not_started = session.videos.filter(stage__in=[Video.Stage.QUEUED, Video.Stage.DISPATCHED])
    for pk in not_started.values_list("pk", flat=True):
        video_fail(pk, error=CANCELLED_WORDS, code="cancelled")
    at_vendor = session.videos.filter(stage=Video.Stage.SUBMITTED).exclude(provider="local").exclude(
        vendor_task_id="")
    return list(at_vendor.values_list("pk", flat=True))


def session_stop(*, session: GenerationSession) -> GenerationSession:
    """Stop at once: no new videos; queued ones are cancelled and refunded; a job already at a vendor is
    cancelled there where the vendor can (in a task: never waits on the vendor), else it finishes. Idempotent."""
    from videos.tasks import vendor_cancel_task

    with transaction.atomic():
        locked = GenerationSession.objects.select_for_update(of=("self",)).get(pk=session.pk)
        for pk in _stop_locked(locked):
            vendor_cancel_task.delay_on_commit(pk)
    session.refresh_from_db()
    return session


def session_delete(*, session: GenerationSession) -> int:
    """Delete a session, its videos and their files. Returns the count of videos.

    Under the session's row lock: stop it (no tick can add a video after this), refund every video not
    finished, then delete, all in one transaction. A render still running sees its row gone and stops.
    """
    from videos.services.job import job_for_video
    from videos.services.results import files_of_run, video_fail
    from videos.services.vendor import job_fields
    from videos.tasks import vendor_job_cancel_task

    with transaction.atomic():
        locked = GenerationSession.objects.select_for_update(of=("self",)).filter(pk=session.pk).first()
        if locked is None:
            return 0
        # Files a run holding a video (or killed while holding it) may have written: read before the fails
        # below end the leases.
        names = [name for video in locked.videos.exclude(lease_owner="").select_related("session")
                 for name in files_of_run(video, video.lease_owner)]
        _stop_locked(locked)
        for video in locked.videos.filter(~Q(status__in=Video.FINAL)).select_related("model", "session"):
            if video.vendor_task_id and video.provider != "local":  # the row goes: the task gets the job itself
                job = job_fields(job_for_video(video, images=False))
                vendor_job_cancel_task.delay_on_commit(video.provider, video.vendor_task_id, job)
            video_fail(video.pk, error="Deleted before it finished; your credits were refunded.", code="deleted")
        names += [locked.params.get("head_image", ""), locked.params.get("tail_image", "")]
        count = 0
        for video in locked.videos.all():
            names += [video.file, video.thumbnail, video.last_frame, spritesheet_name(video.file) if video.file else ""]
            count += 1
        GenerationSession.objects.filter(pk=locked.pk).delete()
        transaction.on_commit(lambda: files.files_delete(*names))
    return count


def session_replay(*, user: AbstractBaseUser, idempotency_key: str, request_digest: str) -> GenerationSession | None:
    """The session an earlier request with this Idempotency-Key created, or None.

    The same key with a different request is a client bug: refused rather than answered with the wrong session.
    """
    if not idempotency_key:
        return None
    session = GenerationSession.objects.filter(owner=user, idempotency_key=idempotency_key).first()
    if session is not None and session.request_digest != request_digest:
        raise InvalidInput("This Idempotency-Key was already used for a different request.",
                           field="Idempotency-Key", code="idempotency_key_reused")
    return session
