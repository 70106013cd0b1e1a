"""The end of a video: store its files, complete it, or fail it and refund its charge exactly once.

Final moves lock the session row first, then move the video (the order every writer uses: session, then
video), so a stop, a delete or a tick never deadlocks with a finishing video.
"""

from __future__ import annotations

import logging
import os
import time
from decimal import Decimal
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from billing import services as billing
from videos import files, lifecycle
from videos.models import GenerationSession, Video
from videos.providers.render import probe, thumbnail_from_video
from videos.services import vendor_state
from videos.services.failover import refund_key, video_failover
from videos.services.sessions import session_finish_if_done

log = logging.getLogger(__name__)
Stage = Video.Stage

# What users read for each of our codes: our words, never the vendor's (its text goes to error_detail).
REFUNDED = "your credits were refunded."
WORDS = {
    "vendor_unavailable": f"The video service is temporarily unavailable; {REFUNDED}",
    "vendor_error": f"The video service could not make this video; {REFUNDED}",
    "moderation": f"The video service declined this request under its content policy; {REFUNDED}",
    "invalid_parameter": f"The video service refused this request's parameters; {REFUNDED}",
    "insufficient_balance": f"The video service is temporarily unavailable; {REFUNDED}",
    "result_expired": f"The finished video expired at the video service before it could be fetched; {REFUNDED}",
    "bad_result": f"The video service returned a file that is not a playable video; {REFUNDED}",
    "interrupted": ("The request to the video service was interrupted and its outcome is unknown; it was not "
                    f"sent again (to avoid a second job), and {REFUNDED}"),
    "timeout": f"Timed out: no result before the deadline; {REFUNDED}",
    "auth": f"The video service is temporarily unavailable; {REFUNDED}",
    "model_unavailable": f"The model was taken out of service before this video was sent to it; {REFUNDED}",
}


def vendor_words(code: str) -> str:
    """Our message for a vendor failure with our `code`."""
    return WORDS.get(code, WORDS["vendor_error"])


def lock_session(session_pk: int) -> None:
    """Lock only the session row (of self: never the owner or model rows, which session creation needs)."""
    list(GenerationSession.objects.select_for_update(of=("self",)).filter(pk=session_pk).values_list("pk"))


def video_fail(video_pk: int, *, error: str, code: str = "failed", detail: str = "",
               task_id: str | None = None, frm: tuple[str, ...] | None = None) -> bool:
    """Fail the video (stage failed, or cancelled for code "cancelled") and refund its charge exactly once.

    `error` is what the user reads; `detail` (the vendor's raw text) is kept for operators only.
    No-op on a final video (returns False): whoever moved it first decided its outcome.
    A transient vendor failure after acceptance fails over to the video's next model instead, when it has one
    the user can pay for (videos.services.failover): the video stays active, and this returns True.
    `task_id`: the vendor job that failed; if the video has moved on to another job (failed over), nothing happens.
    `frm`: the stages it may be failed from (default: any active one).
    """
    row = Video.objects.filter(pk=video_pk).values("session_id", "stage").first()
    if row is None or row["stage"] in lifecycle.FINAL:
        return False
    if video_failover(video_pk, code=code, detail=detail, task_id=task_id, **({"frm": frm} if frm else {})):
        return True
    to = Stage.CANCELLED if code == "cancelled" else Stage.FAILED
    with transaction.atomic():
        lock_session(row["session_id"])
        match = {"vendor_task_id": task_id} if task_id is not None else None
        if not lifecycle.move(video_pk, to, frm=frm, match=match, error=error[:2000], error_code=code[:40], error_detail=detail[:4000],
                              completed_at=timezone.now(), next_poll_at=None):
            return False
        video = Video.objects.select_related("owner", "session").get(pk=video_pk)
        if video.credits_used > Decimal(0):
            billing.credits_refund(user=video.owner, amount=video.credits_used,
                                   key=refund_key(video.public_id, len(video.previous_attempts)),
                                   video_id=video.public_id, session_id=video.session.public_id,
                                   note=f"refund: {code}")
        session_finish_if_done(video.session_id)  # same transaction: no poll sees a final video in a live session
        if frm is None or tuple(frm) != (Stage.QUEUED,):  # a queued video held no vendor slot
            dispatch_on_commit(video)
    fields = {"video_id": video.public_id, "session_id": video.session.public_id, "vendor": video.provider,
              "attempt": video.attempts, "code": code, "refunded": float(video.credits_used)}
    if detail:  # the vendor's own words (scrubbed of secrets by the adapter and the log formatter)
        log.warning("video.vendor_error", extra={**fields, "detail": detail[:500]})
    if video.credits_used > Decimal(0):
        log.info("video.refund", extra=fields)
    vendor_state.vendor_failure_record(vendor=video.provider, code=code, detail=detail)  # health, auth state
    return True


def vendor_fail(video_pk: int, *, code: str, detail: str, task_id: str | None = None) -> bool:
    """Fail with our words for `code`; the vendor's text `detail` is kept for operators. `task_id`: see video_fail."""
    return video_fail(video_pk, error=vendor_words(code), code=code, detail=detail, task_id=task_id)


def dispatch_on_commit(video: Video) -> None:
    """A vendor slot frees when a video ends: start whoever waits for it."""
    if video.provider == "local":
        return
    from videos.tasks import vendor_dispatch_task

    vendor_dispatch_task.delay_on_commit(video.provider)


def _names(video: Video, owner: str) -> dict[str, str]:
    """Storage names unique to one attempt (the run's token), so two runs never write the same file."""
    base = f"videos/{video.owner_id}/{video.session.public_id}/{video.public_id}-{lifecycle.owner_token(owner)}"
    return {"file": f"{base}.mp4", "thumbnail": f"{base}.jpg", "last_frame": f"{base}.png"}


def files_of_run(video: Video, owner: str) -> list[str]:
    """The names a run (by its owner name) may have written: deleted when that run died or lost."""
    return list(_names(video, owner).values()) if owner else []


def video_store(video: Video, *, owner: str, video_path: str, thumbnail_path: str | None,
                last_frame_path: str | None, started: float) -> bool:
    """Store the finished files under this run's names and complete the video, if this run still holds it.

    The run must hold the lease in stage storing. Only the run that wins storing -> done keeps its files;
    a run that lost (stopped, deleted, failed, reclaimed after its lease expired) deletes only its own.
    """
    info = probe(video_path)  # ValueError: not a decodable video
    if thumbnail_path is None:
        thumbnail_path = video_path + ".jpg"
        thumbnail_from_video(video_path, thumbnail_path)
    names: dict[str, Any] = {}  # (Any: they are fields of the final move)
    won = False  # once the final move is made, the files are the video's: no cleanup below may touch them
    try:
        for field, path in (("file", video_path), ("thumbnail", thumbnail_path), ("last_frame", last_frame_path)):
            if path:
                with open(path, "rb") as handle:
                    names[field] = files.file_save(_names(video, owner)[field], File(handle))
                if not lifecycle.lease_renew(video.pk, owner=owner):
                    raise _Lost
        with transaction.atomic():
            lock_session(video.session_id)
            won = bool(lifecycle.move(
                video.pk, Stage.DONE, frm=(Stage.STORING,), owner=owner, progress=100,
                file_size=os.path.getsize(video_path), width=info["width"], height=info["height"],
                frame_rate=round(info["frame_rate"]) or video.frame_rate,
                processing_time=round(time.monotonic() - started, 2) if started else None,
                completed_at=timezone.now(), next_poll_at=None, error="", error_code="", **names))
            if not won:
                raise _Lost
            session_finish_if_done(video.session_id)
            dispatch_on_commit(video)
        return True
    except _Lost:
        log.info("video %s: run %s lost the video; deleting its own files", video.public_id, owner)
        files.files_delete(*names.values())
        return False
    except BaseException:
        # Interrupted (an error, a SIGTERM). Before the final move the files are only ours: delete them. After
        # it they may be the video's (committed, or rolled back: then the next run, reclaiming the expired
        # lease, deletes this run's files by name).
        if not won:
            files.files_delete(*names.values())
        raise


class _Lost(Exception):
    """This run no longer holds the video."""
