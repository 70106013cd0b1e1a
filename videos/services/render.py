"""Local render: claim the video with a lease, render it (renewing the lease from the progress callback),
store it. A run that dies mid-render leaves an expired lease; the sweep re-sends the start and the next run
renders again (local work is free) after deleting whatever files the dead run had stored."""

from __future__ import annotations

import logging
import tempfile
import time

from django.utils import timezone

from videos import files, lifecycle
from videos.models import Video
from videos.providers import get_provider
from videos.providers.render import RenderCancelled
from videos.services.job import job_for_video
from videos.services.results import files_of_run, video_fail, video_store

log = logging.getLogger(__name__)
Stage = Video.Stage


def render_claim(video: Video, owner: str) -> bool:
    """Take a queued video, or one whose previous run's lease expired (rendering or storing)."""
    if video.stage == Stage.QUEUED:
        return lifecycle.claim(video, Stage.RENDERING, frm=(Stage.QUEUED,), owner=owner, started_at=timezone.now())
    if video.stage in (Stage.RENDERING, Stage.STORING):
        dead = video.lease_owner
        if lifecycle.claim(video, Stage.RENDERING, frm=(Stage.RENDERING, Stage.STORING), owner=owner,
                           progress=0):
            log.warning("video %s: lease of %s expired; rendering again", video.public_id, dead or "(none)")
            files.files_delete(*files_of_run(video, dead))  # what the dead run may have stored, never used
            return True
    return False


def render_local(video: Video, owner: str) -> None:
    """Render the video this run has claimed, then store it. Stops early when the lease is lost."""
    provider = get_provider("local")
    job = job_for_video(video)
    every = min(0.5, lifecycle.lease_seconds() / 4)  # progress twice a second; the lease long before it ends
    state = {"renewed": time.monotonic(), "lost": False, "pct": 0}

    def renew(pct: int | None = None) -> None:
        now = time.monotonic()
        if pct is not None:
            state["pct"] = min(int(pct), 99)
        if now - state["renewed"] >= every and not state["lost"]:
            state["renewed"] = now
            if not lifecycle.lease_renew(video.pk, owner=owner, progress=state["pct"]):
                state["lost"] = True  # stopped, deleted, failed, or reclaimed by another run

    def progress(pct: int) -> None:
        renew(pct)

    def cancelled() -> bool:
        renew()
        return bool(state["lost"])

    job.progress, job.cancelled = progress, cancelled
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="render-") as out_dir:
        try:
            result = provider.generate(job, out_dir)
        except RenderCancelled:
            log.info("render of %s stopped: this run no longer holds it", video.public_id)
            return
        except (ValueError, OSError, RuntimeError) as e:  # the renderer refused or broke: redoing it won't help
            log.exception("render of %s failed", video.public_id)
            video_fail(video.pk, error="The video could not be rendered; your credits were refunded.",
                       code="render_error", detail=f"{type(e).__name__}: {e}")
            return
        if not lifecycle.move(video.pk, Stage.STORING, frm=(Stage.RENDERING,), owner=owner):
            return
        video_store(video, owner=owner, video_path=result.video_path, thumbnail_path=result.thumbnail_path,
                    last_frame_path=result.last_frame_path, started=started)
