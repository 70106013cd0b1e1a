"""Response schemas of /api/v3: the contract. Every field the API returns is declared here, once.

One meaning per field everywhere:
- `status` on a video object (and at the top level of both create answers, which describe the first video,
  as the spec's "Response Format" does) is the video's: pending, processing, completed, failed.
  The session's own status is `session_status` there, and `status` inside a session object.
- `credits_used` is what the ledger says was spent (charges less refunds); credit amounts are always
  JSON numbers with a fraction (`48.0`), never integers.
- `resolution` is spelled as in the model ids: lowercase (`768p`, `4k`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from ninja import Schema
from pydantic import BaseModel, Field

from billing.models import CreditEntry
from videos.files import file_url
from videos.health import QueueSpot, VendorHealth, model_availability, vendors_health, videos_queue
from videos.models import GenerationSession, Video, VideoModel

VideoStatus = Literal["pending", "processing", "completed", "failed"]
SessionStatus = Literal["pending", "running", "completed", "stopped", "error"]


def credits(value: Decimal | float | None) -> float:
    """A credit amount as the API shows it: always a float."""
    return float(value or 0)


def spelling(resolution: str) -> str:
    return resolution.strip().lower()


class ErrorDetail(Schema):
    code: str = Field(description="Stable machine-readable code, e.g. validation_error, insufficient_credits.")
    message: str = Field(description="What went wrong, in words for a person.")
    field: str | None = Field(description="The request field (body, query, path or header) at fault, if any.")


class ErrorOut(Schema):
    """Every error: `{"success": false, "error": {"code", "message", "field"}}`."""

    success: Literal[False] = False
    error: ErrorDetail


class Out(BaseModel):
    """An answer built field by field by its `of()` (never read from a model's attributes): validated by pydantic
    alone, without ninja.Schema's wrapper that reads every field through a getter, which cost more than all the
    rest of a 50-video session poll. The OpenAPI document is the same."""


class Pagination(Out):
    page: int
    page_size: int
    total_count: int
    total_pages: int
    has_next: bool
    has_previous: bool


class AttemptOut(Out):
    """An earlier attempt of a video: the model its vendor failed for a transient reason, before failover."""

    model: str = Field(description="The catalog model id that was tried.")
    vendor: str = Field(description="Who made it: the model's vendor, or local.")
    error_code: str = Field(description="Why it failed (vendor_unavailable, timeout, capacity, result_expired; "
                                        "model_unavailable: taken off sale before it was sent).")
    failed_at: datetime | None


def attempts_of(video: Video) -> list[AttemptOut]:
    return [AttemptOut(model=str(a.get("model", "")), vendor=str(a.get("vendor", "")),
                       error_code=str(a.get("error_code", "")), failed_at=a.get("failed_at"))
            for a in video.previous_attempts or []]


FILE_MISSING = "This video was made, but its file is no longer stored, so it cannot be played or downloaded."


class VideoOut(Out):
    """A video: the spec's response format plus what a client needs to follow it."""

    video_id: str
    session_id: str
    status: VideoStatus
    progress: int = Field(ge=0, le=100)
    prompt: str
    model: str = Field(description="The catalog model id.")
    provider: str = Field(description="The catalog model's vendor.")
    simulated: bool = Field(description="Rendered by the local renderer standing in for the vendor.")
    video_url: str | None = Field(description="A signed link to the MP4, once completed; null on a completed video "
                                              "whose file is no longer stored (error_code file_missing).")
    thumbnail_url: str | None
    last_frame_url: str | None
    duration: int = Field(description="Seconds.")
    aspect_ratio: str
    resolution: str
    width: int
    height: int
    frame_rate: int
    seed: int | None
    file_size: int | None
    credits_used: float = Field(description="Credits spent on this video (0.0 once refunded).")
    remaining_credits: float = Field(description="Your balance when this answer was made.")
    processing_time: float | None = Field(description="Seconds from the start of work to the stored file.")
    error: str | None
    error_code: str | None = Field(description="Why it failed; on a completed video, file_missing when its file is "
                                               "no longer stored (its video_url is null).")
    queue_position: int | None = Field(
        None, ge=0, description="Pending: its place in its vendor's queue (1 starts next). Processing: 0. "
                                "null once finished.")
    eta_seconds: int | None = Field(
        None, ge=0, description="Seconds until it should be ready, from its vendor's median time over the last "
                                "hour; null when unknown (no recent completions, or overdue) and once finished.")
    attempts: list[AttemptOut] = Field(
        default_factory=list, description="Earlier attempts on other models, oldest first: the vendor failed them "
                                          "for a transient reason and the video failed over (refunded, then "
                                          "charged for the next model of its fallback chain).")
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, video: Video, *, base: str, remaining: Decimal | float, queue: QueueSpot | None = None) -> VideoOut:
        """`queue`: from videos.health.videos_queue over the whole page (one query); else computed for this one."""
        spent = getattr(video, "credits_spent", None)
        if spent is None:  # not annotated by a selector: the video's own ledger rows
            spent = video_spent(video)
        if queue is None:
            queue = videos_queue([video])[video.pk]
        # A page read (selectors.session_page) names the model in two columns instead of joining its row.
        model, provider = getattr(video, "model_slug", None), getattr(video, "model_vendor", None)
        if model is None or provider is None:
            model, provider = video.model.model_id, video.model.provider
        # Made, but its file is gone from the row (the poll path never asks the storage: a link to a file deleted
        # behind the row's back answers 404 file_missing when followed).
        gone = video.status == Video.Status.COMPLETED and not video.file
        return cls(
            video_id=video.public_id, session_id=video.session.public_id, status=video.status,
            progress=video.progress, prompt=video.prompt, model=model, provider=provider,
            simulated=video.simulated, video_url=file_url(video.file, base=base) or None,
            thumbnail_url=file_url(video.thumbnail, base=base) or None,
            last_frame_url=file_url(video.last_frame, base=base) or None, duration=video.duration,
            aspect_ratio=video.aspect_ratio, resolution=spelling(video.resolution), width=video.width,
            height=video.height, frame_rate=video.frame_rate, seed=video.params.get("seed"),
            file_size=video.file_size or None, credits_used=credits(spent), remaining_credits=credits(remaining),
            processing_time=video.processing_time, error=video.error or (FILE_MISSING if gone else None),
            error_code=video.error_code or ("file_missing" if gone else None), queue_position=queue.position, eta_seconds=queue.eta_seconds, attempts=attempts_of(video),
            created_at=video.created_at, completed_at=video.completed_at,
        )


def video_spent(video: Video) -> Decimal:
    from django.db.models import Sum

    net = (CreditEntry.objects.filter(video_id=video.public_id, kind__in=("charge", "refund"))
           .order_by().aggregate(net=Sum("delta"))["net"])
    return -(net or Decimal(0))


class SessionOut(Out):
    session_id: str
    status: SessionStatus = Field(description="The session's status.")
    kind: Literal["single", "timed"] = Field(description="single: POST /videos/generate; timed: /videos/sessions.")
    prompt: str
    model: str
    provider: str
    duration_minutes: int
    max_videos: int
    interval_seconds: int
    total_videos: int
    completed_videos: int
    credits_used: float = Field(description="Credits spent on the session's videos (ledger: charges less refunds).")
    budget_credits: float | None = Field(description="The cap on credits_used that ends a timed session when the "
                                                     "next video would pass it; null: none.")
    next_video_at: datetime | None
    ends_at: datetime | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, session: GenerationSession) -> SessionOut:
        """`session` comes from selectors.sessions_for_user (annotated with its counts and credits)."""
        model, provider = getattr(session, "model_slug", None), getattr(session, "model_vendor", None)
        if model is None or provider is None:  # not read with the session (selectors.session_counted does)
            model, provider = session.model.model_id, session.model.provider
        return cls(
            session_id=session.public_id, status=session.status, kind=session.kind, prompt=session.prompt,
            model=model, provider=provider,
            duration_minutes=session.duration_minutes, max_videos=session.max_videos,
            interval_seconds=session.interval_seconds, total_videos=session.total_videos,
            completed_videos=session.completed_videos, credits_used=credits(session.credits_total),
            budget_credits=credits(session.budget_credits) if session.budget_credits is not None else None,
            next_video_at=session.next_run_at, ends_at=session.ends_at, error=session.error or None,
            created_at=session.created_at, updated_at=session.updated_at, finished_at=session.finished_at,
        )


class VendorHealthOut(Schema):
    """How a vendor is doing right now (at most a few seconds old). The same object for all its models."""

    vendor: str
    in_flight: int = Field(description="Jobs it is working on now.")
    capacity: int | None = Field(description="How many jobs we run at once at this vendor; null: no fixed cap.")
    queued: int = Field(description="Paid videos waiting for one of its slots.")
    finished_last_hour: int
    success_rate: float | None = Field(ge=0, le=1, description="Completed ÷ finished over the last hour; "
                                                                "null when none finished.")
    median_seconds: float | None = Field(description="Median time to complete over the last hour; null when none.")
    last_error_class: str | None = Field(description="Our error code of its last failure, e.g. vendor_unavailable, "
                                                     "moderation, auth.")
    auth_state: Literal["ok", "failing", "disabled", "not_configured"] = Field(
        description="ok; failing: recent authentication failures; disabled: its models are unavailable until "
                    "the operator fixes the key; not_configured: no key set (models render simulated).")

    @classmethod
    def of(cls, health: VendorHealth) -> VendorHealthOut:
        return cls(vendor=health.vendor, in_flight=health.in_flight, capacity=health.capacity, queued=health.queued,
                   finished_last_hour=health.finished_last_hour, success_rate=health.success_rate,
                   median_seconds=health.median_seconds, last_error_class=health.last_error_class,
                   auth_state=health.auth_state)


class ModelOut(Schema):
    model_id: str
    name: str
    provider: str
    type: Literal["t2v", "i2v", "kf2v"]
    media_type: Literal["video"] = "video"
    duration: int = Field(description="Default length in seconds.")
    durations: list[int] = Field(description="Every length it makes. An id naming one (…-6s-…) makes only that.")
    resolution: str
    resolutions: list[str]
    aspect_ratios: list[str]
    credits: float = Field(description="Price of one video of the default length; other lengths scale.")
    vendor_model: str
    mapping_note: str | None
    available: Literal["live", "simulated", "unavailable"]
    enabled: bool
    lifecycle: Literal["active", "preview", "shut_down"]
    lifecycle_note: str | None
    head_image: Literal["none", "optional", "required"]
    tail_image: Literal["none", "optional", "required"]
    parameters: list[str] = Field(description="Request fields this model accepts.")
    health: VendorHealthOut | None = Field(None, description="Its vendor's health (see `vendors`).")

    @classmethod
    def of(cls, model: VideoModel, *, health: dict[str, VendorHealth] | None = None) -> ModelOut:
        from videos.catalog import COMMON_PARAMS
        from videos.services.intake import model_durations

        if health is None:
            health = vendors_health()  # cached: one cache read per model on pages that render models one by one
        params = list(COMMON_PARAMS)
        if model.head_image != VideoModel.Input.NONE:
            params.append("head_image")
        if model.tail_image != VideoModel.Input.NONE:
            params.append("tail_image")
        return cls(
            model_id=model.model_id, name=model.display_name, provider=model.provider, type=model.type,
            duration=model.duration, durations=model_durations(model), resolution=spelling(model.resolution),
            resolutions=[spelling(r) for r in model.resolutions], aspect_ratios=list(model.aspect_ratios),
            credits=credits(model.credits), vendor_model=model.vendor_model, mapping_note=model.mapping_note or None,
            available=model_availability(model, health=health), enabled=model.enabled,
            lifecycle=model.lifecycle, lifecycle_note=model.lifecycle_note or None, head_image=model.head_image,
            tail_image=model.tail_image, parameters=params + list(model.params),
            health=VendorHealthOut.of(health[model.provider]) if health and model.provider in health else None,
        )


class CreatedOut(Schema):
    """201 of POST /videos/generate and POST /videos/sessions (the same shape for both).

    The top level is the first video, in the spec's response format (`status` is the video's); `session`
    and `session_status` describe the session that makes it (and, for a timed session, the ones after).
    """

    success: Literal[True] = True
    session_id: str
    video_id: str
    status: VideoStatus = Field(description="The first video's status.")
    session_status: SessionStatus
    credits_used: float = Field(description="Credits charged for the first video.")
    remaining_credits: float
    model: str
    provider: str
    simulated: bool
    prompt: str
    duration: int
    aspect_ratio: str
    resolution: str
    video_url: str | None = Field(description="null until the video is made: poll the session.")
    thumbnail_url: str | None
    processing_time: float | None
    queue_position: int | None = Field(None, ge=0, description="As on a video object.")
    eta_seconds: int | None = Field(None, ge=0, description="As on a video object.")
    created_at: datetime
    session: SessionOut


class SessionListSummary(Schema):
    """Over every session matching the list's `status` and `search` filters (all pages)."""

    pending: int
    running: int
    completed: int
    stopped: int
    error: int
    total_sessions: int
    total_videos: int
    total_credits_used: float


class SessionListOut(Schema):
    success: Literal[True] = True
    sessions: list[SessionOut]
    pagination: Pagination
    summary: SessionListSummary


class SessionDetailOut(Out):
    success: Literal[True] = True
    session: SessionOut
    videos: list[VideoOut]
    pagination: Pagination


class SessionStopOut(Schema):
    success: Literal[True] = True
    message: str
    session: SessionOut


class SessionDeleteOut(Schema):
    success: Literal[True] = True
    message: str
    videos_deleted: int
    session_id: str


class HistoryOut(Out):
    success: Literal[True] = True
    videos: list[VideoOut]
    pagination: Pagination


class VideoDetailOut(VideoOut):
    success: Literal[True] = True


class ModelsOut(Schema):
    success: Literal[True] = True
    media_type: Literal["video"]
    models: list[ModelOut]
    count: int
    vendors: list[VendorHealthOut] = Field(default_factory=list,
                                           description="Each vendor's health, once (also on each model).")
