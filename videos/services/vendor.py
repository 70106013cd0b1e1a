"""Vendor work: submit a claimed video, poll it (one poll per lease), download and store its result, and
cancel it at the vendor (best effort) when its session stops."""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from datetime import timedelta

from django.utils import timezone

from videos import files, lifecycle
from videos.models import Video
from videos.providers import get_provider
from videos.providers.base import Job, JobStatus, Provider, ProviderError, ProviderUnavailable
from videos.services import vendor_state
from videos.services.job import job_for_video
from videos.services.results import WORDS, files_of_run, vendor_fail, video_fail, video_store

log = logging.getLogger(__name__)
Stage = Video.Stage
MAX_SUBMIT_ATTEMPTS = 6


class Retry(Exception):
    """Ask the task to run again after `countdown` seconds (the vendor answered 429/5xx or timed out)."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


def vendor_submit(video: Video, owner: str, *, resent: bool = False) -> float | None:
    """Send the video (claimed by `owner`, stage submitting) to its vendor. Seconds until the first poll.
    `resent`: this is the one more try a reconcile allows after the vendor confirmed it had no such job."""
    provider = get_provider(video.provider)
    job = job_for_video(video)
    try:
        task_id = provider.submit(job)
    except ProviderUnavailable as e:
        if e.maybe_submitted:  # the vendor may have the job: find it again, or fail; never a second one
            return _reconcile(video, owner, provider, job, e.message, resend=not resent)
        attempts = video.attempts + 1
        lifecycle.move(video.pk, Stage.QUEUED, frm=(Stage.SUBMITTING,), owner=owner, started_at=None,
                       attempts=attempts, error_detail=e.message[:4000])
        if attempts >= MAX_SUBMIT_ATTEMPTS:
            vendor_fail(video.pk, code=e.code, detail=e.message)
            return None
        countdown = e.retry_after if e.retry_after is not None else min(300, 5 * 2 ** video.attempts)
        log.warning("video.retry", extra={"video_id": video.public_id, "session_id": video.session.public_id,
                                          "vendor": video.provider, "attempt": attempts, "step": "submit",
                                          "delay": countdown, "code": e.code, "detail": e.message[:500]})
        raise Retry(countdown=countdown) from e
    except ProviderError as e:
        vendor_fail(video.pk, code=e.code, detail=e.message)
        return None
    return _submitted(video, owner, provider, job, task_id)


def _submitted(video: Video, owner: str, provider: Provider, job: Job, task_id: str) -> float | None:
    if lifecycle.move(video.pk, Stage.SUBMITTED, frm=(Stage.SUBMITTING,), owner=owner,
                      vendor_task_id=task_id[:255], vendor_status="", error_detail="", attempts=0,
                      next_poll_at=timezone.now() + timedelta(seconds=provider.poll_interval)):
        vendor_state.vendor_success_record(vendor=video.provider)  # the key works: auth failures start again
        return provider.poll_interval
    # Stopped, deleted or failed while we were submitting: the job is not wanted any more.
    Video.objects.filter(pk=video.pk).update(vendor_task_id=task_id[:255])
    cancel_at_vendor(provider, task_id, job)
    return None


def submit_reclaim(video: Video, owner: str) -> float | None:
    """A run died while submitting (its lease expired): reconcile with the vendor, never guess."""
    dead = video.lease_owner
    if not lifecycle.claim(video, Stage.SUBMITTING, frm=(Stage.SUBMITTING,), owner=owner):
        return None
    log.warning("video %s: the submit by %s was interrupted", video.public_id, dead or "(unknown)")
    provider = get_provider(video.provider)
    return _reconcile(video, owner, provider, job_for_video(video), "the worker stopped during the submit")


def _reconcile(video: Video, owner: str, provider: Provider, job: Job, why: str, *,
               resend: bool = True) -> float | None:
    """The vendor may or may not have the job. Where its protocol lets us find a job by our own id
    (`find_submitted`, e.g. Kling's external_task_id), take it up; otherwise fail and refund, code interrupted.
    A job the vendor confirms it never got is sent once more, once: a second unknown outcome ends it (no
    unbounded submit/timeout/look-up loop)."""
    find = getattr(provider, "find_submitted", None)
    if find is not None:
        try:
            task_id = find(job)
        except ProviderError as e:
            log.warning("video %s: could not look the job up at the vendor: %s", video.public_id, e.message)
        else:
            if task_id:
                return _submitted(video, owner, provider, job, task_id)
            if resend:  # the vendor confirms it never got the job: sending it now cannot make a second one
                return vendor_submit(video, owner, resent=True)
            why = f"{why}; the vendor has no job by our id after a second try"
    video_fail(video.pk, error=WORDS["interrupted"], code="interrupted", detail=f"{why}; not resubmitted")
    return None


def _load(video_pk: int) -> Video | None:
    return Video.objects.select_related("session", "model", "owner").filter(pk=video_pk).first()


def video_poll(video_pk: int) -> float | None:
    """Poll the vendor once, holding the lease for that one poll. Seconds until the next poll, or None."""
    video = _load(video_pk)
    if video is None or video.stage not in (Stage.SUBMITTED, Stage.STORING) or not video.vendor_task_id:
        return None
    provider = get_provider(video.provider)
    early = (video.next_poll_at - timezone.now()).total_seconds() if video.next_poll_at else 0.0
    if early > provider.poll_interval / 2:
        return None  # a duplicate (the sweep re-sent it): the chain that set next_poll_at polls then
    owner, dead = lifecycle.new_owner(), video.lease_owner
    if not lifecycle.lease_take(video, owner=owner):
        return None  # another run is polling it right now
    if video.stage == Stage.STORING:  # a run died downloading or storing: poll again, fetch again
        log.warning("video %s: lease of %s expired while storing; fetching the result again", video.public_id, dead)
        files.files_delete(*files_of_run(video, dead))
    if video.deadline_at and timezone.now() > video.deadline_at:
        video_fail(video.pk, error=WORDS["timeout"], code="timeout", detail="the vendor did not finish in time")
        return None
    job = job_for_video(video, images=False)  # one storage read per image at submit, not one per poll
    try:
        status = provider.poll(video.vendor_task_id, job)
    except ProviderUnavailable as e:
        return _poll_later(video, owner, provider.poll_interval, e)
    except ProviderError as e:
        vendor_fail(video.pk, task_id=video.vendor_task_id, code=e.code, detail=e.message)
        return None
    if status.state == JobStatus.FAILED:
        vendor_fail(video.pk, task_id=video.vendor_task_id, code=status.error_code or "vendor_error", detail=status.error or "failed")
        return None
    if status.state == JobStatus.COMPLETED:
        if not lifecycle.move(video.pk, Stage.STORING, frm=(Stage.SUBMITTED, Stage.STORING), owner=owner,
                              vendor_status=status.vendor_status[:64], next_poll_at=None):
            return None
        try:
            _download(video, owner, provider, status, job)
        except ProviderUnavailable as e:  # CDN hiccup: the result is still there, fetch it next time
            lifecycle.move(video.pk, Stage.SUBMITTED, frm=(Stage.STORING,), owner=owner, lease_owner=owner)
            return _poll_later(video, owner, provider.poll_interval, e)
        return None
    delay = status.poll_after or provider.poll_interval
    if video.stage == Stage.STORING:  # refetching after a dead run, and the vendor says it is not done: poll on
        lifecycle.move(video.pk, Stage.SUBMITTED, frm=(Stage.STORING,), owner=owner, lease_owner=owner)
    lifecycle.lease_release(video.pk, owner=owner, vendor_status=status.vendor_status[:64],
                            progress=min(99, status.progress or video.progress), attempts=0,
                            next_poll_at=timezone.now() + timedelta(seconds=delay))
    return delay


def video_fetch(video_pk: int, *, handoff: str = "") -> None:
    """Download and store a job the poller found completed (services.poller hands it over in stage storing,
    under a lease named `handoff`). The lease is adopted by its name, once: a duplicate delivery finds it taken
    and does nothing. The vendor is asked once more for the result (a fresh link; no result URL travels
    through the broker or its logs). Without a hand-off (the sweep re-sends a storing video whose lease
    expired: its run died) the video is reclaimed, polled once and fetched again."""
    if not handoff:
        video_poll(video_pk)
        return
    video = _load(video_pk)
    if video is None or video.stage != Stage.STORING or video.lease_owner != handoff:
        return
    owner = lifecycle.new_owner()
    now = timezone.now()
    if not Video.objects.filter(pk=video.pk, stage=Stage.STORING, lease_owner=handoff).update(
            lease_owner=owner, lease_until=now + timedelta(seconds=lifecycle.lease_seconds()), updated_at=now):
        return  # another delivery (or the sweep's reclaim) took it
    video.lease_owner = owner
    provider = get_provider(video.provider)
    job = job_for_video(video, images=False)
    try:
        status = provider.poll(video.vendor_task_id, job)
        if status.state == JobStatus.COMPLETED:
            _download(video, owner, provider, status, job)
            return
    except ProviderUnavailable as e:  # the vendor or its CDN hiccuped: the result is still there; poll again
        lifecycle.move(video.pk, Stage.SUBMITTED, frm=(Stage.STORING,), owner=owner, lease_owner=owner)
        _poll_later(video, owner, provider.poll_interval, e)
        return
    except ProviderError as e:
        vendor_fail(video.pk, task_id=video.vendor_task_id, code=e.code, detail=e.message)
        return
    if status.state == JobStatus.FAILED:
        vendor_fail(video.pk, task_id=video.vendor_task_id, code=status.error_code or "vendor_error",
                    detail=status.error or "failed")
        return
    # Not done after all (a vendor that went back on its word): poll on.
    lifecycle.move(video.pk, Stage.SUBMITTED, frm=(Stage.STORING,), owner=owner, lease_owner=owner)
    lifecycle.lease_release(video.pk, owner=owner, vendor_status=status.vendor_status[:64],
                            next_poll_at=timezone.now() + timedelta(seconds=provider.poll_interval))


def _poll_later(video: Video, owner: str, interval: float, error: ProviderUnavailable) -> float:
    """Back off after a 429/5xx/timeout: the vendor's Retry-After, else the interval doubled per failure."""
    attempts = video.attempts + 1
    delay = error.retry_after if error.retry_after is not None else min(600.0, interval * 2**attempts)
    lifecycle.lease_release(video.pk, owner=owner, attempts=attempts, error_detail=error.message[:4000],
                            next_poll_at=timezone.now() + timedelta(seconds=delay))
    log.warning("video.retry", extra={"video_id": video.public_id, "session_id": video.session.public_id,
                                      "vendor": video.provider, "attempt": attempts, "step": "poll",
                                      "delay": delay, "code": error.code, "detail": error.message[:500]})
    return delay


def _download(video: Video, owner: str, provider: Provider, status: JobStatus, job: Job) -> None:
    started = time.monotonic() - ((timezone.now() - video.started_at).total_seconds() if video.started_at else 0)
    with tempfile.TemporaryDirectory(prefix="fetch-") as tmp:
        path = os.path.join(tmp, "video.mp4")
        try:
            with open(path, "wb") as dest:
                provider.download(status, job, dest)
            video_store(video, owner=owner, video_path=path, thumbnail_path=None, last_frame_path=None,
                        started=started)
        except ProviderUnavailable:
            raise
        except ProviderError as e:  # expired URL, refused download: permanent
            vendor_fail(video.pk, task_id=video.vendor_task_id, code=e.code, detail=e.message)
        except ValueError as e:  # probe: not a decodable video
            vendor_fail(video.pk, task_id=video.vendor_task_id, code="bad_result", detail=f"not a playable video: {e}")


def cancel_at_vendor(provider: Provider, task_id: str, job: Job) -> bool:
    """Ask the vendor to cancel `task_id` where its adapter can (`cancel`); best effort, never raises."""
    cancel = getattr(provider, "cancel", None)
    if cancel is None or not task_id:
        return False
    try:
        return bool(cancel(task_id, job))
    except Exception as e:  # noqa: BLE001 - a failed cancel only means the job runs to its end
        log.warning("cancel of %s at %s failed: %s", task_id, provider.name, getattr(e, "message", e))
        return False


def job_fields(job: Job) -> dict:
    """A poll's Job (no images, no callbacks) as JSON-able fields, to cancel it after its row is gone."""
    return {f.name: getattr(job, f.name) for f in dataclasses.fields(job)
            if f.name not in ("head_image", "tail_image", "progress", "cancelled")}


def vendor_job_cancel(provider_name: str, task_id: str, fields: dict) -> bool:
    """Cancel a job whose video was deleted (best effort)."""
    return cancel_at_vendor(get_provider(provider_name), task_id, Job(**fields))


def vendor_cancel(video_pk: int) -> bool:
    """Cancel a stopped session's video at its vendor; refunded when the vendor confirms, else it finishes."""
    video = _load(video_pk)
    if video is None or video.stage in lifecycle.FINAL or not video.vendor_task_id:
        return False
    provider = get_provider(video.provider)
    if not cancel_at_vendor(provider, video.vendor_task_id, job_for_video(video, images=False)):
        return False
    return video_fail(video.pk, error="Cancelled: the session was stopped; your credits were refunded.",
                      code="cancelled", detail=f"cancelled at {video.provider}")
