"""The JSON shapes of videos, sessions and models (spec's names, plus DESIGN §2's additions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from videos.files import file_url
from videos.models import GenerationSession, Video, VideoModel
from videos.providers import availability


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def video_dict(video: Video, *, base: str) -> dict[str, Any]:
    return {
        "video_id": video.public_id,
        "session_id": video.session.public_id,
        "status": video.status,
        "progress": video.progress,
        "prompt": video.prompt,
        "model": video.model.model_id,
        "provider": video.model.provider,
        "simulated": video.simulated,
        "video_url": file_url(video.file, base=base) or None,
        "thumbnail_url": file_url(video.thumbnail, base=base) or None,
        "last_frame_url": file_url(video.last_frame, base=base) or None,
        "duration": video.duration,
        "aspect_ratio": video.aspect_ratio,
        "resolution": video.resolution,
        "width": video.width,
        "height": video.height,
        "frame_rate": video.frame_rate,
        "seed": video.params.get("seed"),
        "file_size": video.file_size or None,
        "credits_used": float(video.credits_used) if video.status != Video.Status.FAILED else 0.0,
        "processing_time": video.processing_time,
        "error": video.error or None,
        "error_code": video.error_code or None,
        "created_at": iso(video.created_at),
        "completed_at": iso(video.completed_at),
    }


def session_dict(session: GenerationSession) -> dict[str, Any]:
    total = getattr(session, "total_videos", None)
    credits = getattr(session, "credits_total", None)
    return {
        "session_id": session.public_id,
        "status": session.status,
        "kind": session.kind,
        "prompt": session.prompt,
        "model": session.model.model_id,
        "provider": session.model.provider,
        "duration_minutes": session.duration_minutes,
        "max_videos": session.max_videos,
        "interval_seconds": session.interval_seconds,
        "total_videos": total if total is not None else session.videos.count(),
        "completed_videos": getattr(session, "completed_videos", None),
        "credits_used": float(credits or 0),
        "next_video_at": iso(session.next_run_at),
        "ends_at": iso(session.ends_at),
        "error": session.error or None,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
        "finished_at": iso(session.finished_at),
    }


def model_dict(model: VideoModel) -> dict[str, Any]:
    from videos.catalog import COMMON_PARAMS

    params = list(COMMON_PARAMS)
    if model.head_image != VideoModel.Input.NONE:
        params.append("head_image")
    if model.tail_image != VideoModel.Input.NONE:
        params.append("tail_image")
    return {
        "model_id": model.model_id,
        "name": model.display_name,
        "provider": model.provider,
        "type": model.type,
        "media_type": "video",
        "duration": model.duration,
        "durations": model.durations,
        "resolution": model.resolution.upper() if model.resolution.endswith("p") else model.resolution,
        "resolutions": model.resolutions,
        "aspect_ratios": model.aspect_ratios,
        "credits": float(model.credits),
        "vendor_model": model.vendor_model,
        "mapping_note": model.mapping_note or None,
        "available": availability(model.provider) if model.enabled else "unavailable",
        "enabled": model.enabled,
        "lifecycle": model.lifecycle,
        "lifecycle_note": model.lifecycle_note or None,
        "head_image": model.head_image,
        "tail_image": model.tail_image,
        "parameters": params + list(model.params),
    }
