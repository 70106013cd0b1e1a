"""OpenAI's video objects, built from our Video rows (the `openai` SDK's `types/video.py` is the reference)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema

from videos.models import Video

STATUSES = {
    Video.Status.PENDING: "queued",
    Video.Status.PROCESSING: "in_progress",
    Video.Status.COMPLETED: "completed",
    Video.Status.FAILED: "failed",
}


class VideoErrorOut(Schema):
    code: str
    message: str


class VideoOut(Schema):
    id: str
    object: Literal["video"] = "video"
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    model: str
    prompt: str | None = None
    seconds: str
    size: str
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    remixed_from_video_id: str | None = None
    error: VideoErrorOut | None = None
    simulated: bool  # ours: made by the local renderer because the vendor is not configured


class VideoListOut(Schema):
    object: Literal["list"] = "list"
    data: list[VideoOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeletedOut(Schema):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool


class ErrorDetail(Schema):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorOut(Schema):
    error: ErrorDetail


def _unix(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def video_out(video: Video) -> dict[str, Any]:
    status = STATUSES[Video.Status(video.status)]
    error = None
    if status == "failed":
        error = {"code": video.error_code or "generation_failed", "message": video.error or "The video failed."}
    return {
        "id": video.public_id,
        "object": "video",
        "status": status,
        "progress": 100 if status == "completed" else min(int(video.progress), 99),
        "model": video.model.model_id,
        "prompt": video.prompt,
        "seconds": str(video.duration),
        "size": f"{video.width}x{video.height}",
        "created_at": _unix(video.created_at),
        "completed_at": _unix(video.completed_at) if status in {"completed", "failed"} else None,
        "expires_at": None,
        "remixed_from_video_id": None,
        "error": error,
        "simulated": video.simulated,
    }
