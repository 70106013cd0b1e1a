"""The API's shapes for the dashboard's templates: the output schemas of videos/api/outputs.py, as dicts.

Kept so the pages render exactly what the API returns; new code should use the schemas directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billing.services import credit_balance
from videos.api.outputs import ModelOut, SessionOut, VideoOut
from videos.models import GenerationSession, Video, VideoModel


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def video_dict(video: Video, *, base: str) -> dict[str, Any]:
    return VideoOut.of(video, base=base, remaining=credit_balance(user=video.owner_id)).model_dump()


def session_dict(session: GenerationSession) -> dict[str, Any]:
    return SessionOut.of(session).model_dump()


def model_dict(model: VideoModel) -> dict[str, Any]:
    return ModelOut.of(model).model_dump()
