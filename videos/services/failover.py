"""Failover after acceptance: a video its vendor failed for a transient reason goes to the next model in its chain.

The chain is the request's own `fallback_models` (checked at intake), else the operator's default `fallback` of
each model in turn. Each model is tried at most once per video. The move back to `queued` for the new model,
the refund of the failed attempt and the charge of the new one are one transaction (session row, then video,
then the credit account: the order every writer uses); a user who cannot pay for the fallback gets the failure
and the refund instead (video_fail), never a negative balance.

Ledger keys: the first attempt keeps `video:<id>:charge` / `video:<id>:refund` (as before failover existed); the
n-th failover's attempt is `video:<id>:charge:<n>` / `video:<id>:refund:<n>`. n is len(video.previous_attempts).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing import services as billing
from billing.exceptions import InsufficientCredits
from videos import lifecycle
from videos.models import Video, VideoModel
from videos.providers import LIVE, availability
from videos.services.intake import model_fits

log = logging.getLogger(__name__)
Stage = Video.Stage

# Our codes for a failure that says nothing about the request: another model may well make it. Never moderation,
# invalid_parameter, insufficient_balance (our vendor account), auth, bad_result or interrupted (the vendor may
# still be making it: sending it elsewhere could make it twice).
TRANSIENT = frozenset({"vendor_unavailable", "timeout", "capacity", "result_expired"})
# Our codes for a video withdrawn before any vendor had it (services.withdraw: its model was taken off sale).
UNSENT = frozenset({"model_unavailable"})
# Where a vendor may hold the job (failover needs the vendor to have accepted it: a vendor_task_id).
FROM = (Stage.QUEUED, Stage.DISPATCHED, Stage.SUBMITTING, Stage.SUBMITTED, Stage.STORING)


def charge_key(public_id: str, attempt: int) -> str:
    return f"video:{public_id}:charge" if attempt == 0 else f"video:{public_id}:charge:{attempt}"


def refund_key(public_id: str, attempt: int) -> str:
    return f"video:{public_id}:refund" if attempt == 0 else f"video:{public_id}:refund:{attempt}"


def next_model(video: Video) -> VideoModel | None:
    """The first model of `video`'s chain not tried yet that can make it as requested, or None."""
    tried = {a.get("model") for a in video.previous_attempts} | {video.model.model_id}
    chosen = video.params.get("fallback_models")
    if chosen:  # the request's own chain (its order), skipping what was disabled or changed since intake
        found = {m.model_id: m for m in VideoModel.objects.filter(model_id__in=chosen)}
        candidates = [found[m] for m in chosen if m in found and m not in tried]
    else:  # the operator's default of the model that just failed (followed model by model: A -> B -> C)
        fallback = video.model.fallback
        candidates = [fallback] if fallback is not None and fallback.model_id not in tried else []
    session_params = video.session.params
    for model in candidates:
        why = model_fits(model, video.params, head=bool(session_params.get("head_image")),
                         tail=bool(session_params.get("tail_image")))
        if not why:
            return model
        log.info("video %s: fallback %s skipped: %s", video.public_id, model.model_id, why)
    return None


def video_failover(video_pk: int, *, code: str, detail: str = "", task_id: str | None = None,
                   frm: tuple[str, ...] = FROM) -> bool:
    """Resubmit the video to its next model if its vendor failed it for a transient reason after accepting it,
    or if its model was taken off sale before any vendor had it (an UNSENT code; `frm`: the stages it may be in).

    True: the video is queued again for the new model (refunded and charged anew), or the failed job `task_id`
    is no longer the video's (another run failed it over first): nothing more to do. False: it should fail.
    """
    if code not in TRANSIENT and code not in UNSENT:
        return False
    video = Video.objects.select_related("model__fallback", "session", "owner").filter(pk=video_pk).first()
    if video is None or video.stage not in frm or bool(video.vendor_task_id) != (code in TRANSIENT):
        return False
    if task_id is not None and task_id != video.vendor_task_id:
        return True  # that job's attempt already ended
    target = next_model(video)
    if target is None:
        return False
    from videos.services.job import job_for_video
    from videos.services.results import dispatch_on_commit, lock_session
    from videos.services.sessions import enqueue_start

    old_job, old_task = job_for_video(video, images=False), video.vendor_task_id

    attempt = len(video.previous_attempts)
    now = timezone.now()
    history = [*video.previous_attempts, {"model": video.model.model_id, "vendor": video.provider,
                                          "error_code": code, "failed_at": now.isoformat()}]
    price = target.price_for(video.duration)
    live = availability(target.provider) == LIVE
    ids = {"video_id": video.public_id, "session_id": video.session.public_id}
    try:
        with transaction.atomic():
            lock_session(video.session_id)
            if not lifecycle.move(
                    video.pk, Stage.QUEUED, frm=frm, match={"vendor_task_id": video.vendor_task_id,
                                                              "model_id": video.model_id}, model=target, provider=target.provider if live else "local",
                    simulated=not live, credits_used=price, previous_attempts=history, vendor_task_id="",
                    vendor_status="", progress=0, attempts=0, started_at=None, next_poll_at=None,
                    deadline_at=now + timedelta(seconds=settings.VIDEO_DEADLINE_SECONDS), error="", error_code="",
                    error_detail=detail[:4000]):
                # Stopped, deleted or finished meanwhile (video_fail finds it final too); or another run failed
                # this attempt over first (then this failure is about an attempt that has ended: nothing to do).
                return Video.objects.filter(pk=video.pk, stage__in=frm).exclude(
                    vendor_task_id=video.vendor_task_id, model_id=video.model_id).exists()
            if video.credits_used > 0:
                billing.credits_refund(user=video.owner, amount=video.credits_used,
                                       key=refund_key(video.public_id, attempt), note=f"refund: {code}, failover",
                                       **ids)
            billing.credits_charge(user=video.owner, amount=price, key=charge_key(video.public_id, attempt + 1),
                                   note=f"{target.model_id}, {video.duration}s (failover from "
                                        f"{video.model.model_id})", **ids)
            if tuple(frm) != (Stage.QUEUED,):  # the failed vendor's slot is free (a queued video held none)
                dispatch_on_commit(video)
            enqueue_start(Video(pk=video.pk))
    except InsufficientCredits:
        log.info("video.failover_unaffordable", extra={**ids, "vendor": video.provider, "code": code,
                                                        "model": target.model_id, "price": float(price)})
        return False
    log.warning("video.failover", extra={**ids, "vendor": video.provider, "code": code, "detail": detail[:500],
                                         "from_model": video.model.model_id, "model": target.model_id,
                                         "attempt": attempt + 1})
    if code == "timeout":  # our deadline, not the vendor's word: its job may still run, and be billed
        from videos.providers import get_provider
        from videos.services.vendor import cancel_at_vendor

        cancel_at_vendor(get_provider(video.provider), old_task, old_job)  # committed above; best effort
    from videos.services import vendor_state

    vendor_state.vendor_failure_record(vendor=video.provider, code=code, detail=detail)  # health still counts it
    return True
