"""/api/v3 video endpoints: thin views over services and selectors."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Literal

from django.db import IntegrityError
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from billing import services as billing
from dashboard.api import rate_limit
from dashboard.http import ApiRequest
from videos import selectors, services
from videos.files import base_url
from videos.exceptions import InvalidInput
from videos.models import GenerationSession, Video
from videos.schemas import GenerateIn, SessionIn
from videos.serializers import iso, model_dict, session_dict, video_dict

router = Router(tags=["videos"])


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=100)


class SessionListQuery(PageQuery):
    status: Literal["pending", "running", "completed", "error", "stopped"] | None = None
    search: str | None = Field(None, max_length=200)


class HistoryQuery(PageQuery):
    status: Literal["pending", "processing", "completed", "failed"] | None = None
    model: str | None = Field(None, max_length=80)
    search: str | None = Field(None, max_length=200)


class SessionPageQuery(PageQuery):
    page_size: int = Field(50, ge=1, le=100)


class ModelsQuery(Schema):
    media_type: Literal["video"] = "video"


def _page(qs: Any, query: PageQuery) -> tuple[list[Any], dict[str, int | bool]]:
    total = qs.count()
    start = (query.page - 1) * query.page_size
    items = list(qs[start:start + query.page_size])
    pages = max(1, math.ceil(total / query.page_size))
    return items, {"page": query.page, "page_size": query.page_size, "total_count": total, "total_pages": pages,
                   "has_next": query.page < pages, "has_previous": query.page > 1}


def _created(request: ApiRequest, session: GenerationSession) -> dict[str, Any]:
    video = session.videos.select_related("model", "session").order_by("sequence").first()
    charged = video.credits_used if video else 0
    return {
        "success": True,
        "session_id": session.public_id,
        "video_id": video.public_id if video else None,
        "status": video.status if video and session.kind == GenerationSession.Kind.SINGLE else session.status,
        "session_status": session.status,
        "credits_used": float(charged),
        "remaining_credits": float(billing.credit_balance(user=request.auth.owner)),
        "model": session.model.model_id,
        "provider": session.model.provider,
        "simulated": video.simulated if video else False,
        "prompt": session.prompt,
        "duration": session.params["duration"],
        "aspect_ratio": session.params["aspect_ratio"],
        # The spec's response format, filled in as the video is made: poll the session for them.
        "video_url": None,
        "thumbnail_url": None,
        "processing_time": None,
        "created_at": iso(session.created_at),
    }


def _create(request: ApiRequest, payload: GenerateIn) -> GenerationSession:
    """Validate and create, once per Idempotency-Key: a retried POST gets the first session back, uncharged."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 128:
        raise InvalidInput("Idempotency-Key must be at most 128 characters.", field="Idempotency-Key")
    body = [type(payload).__name__, payload.model_dump(mode="json")]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    user = request.auth.owner
    if session := services.session_replay(user=user, idempotency_key=key, request_digest=digest):
        return session
    rate_limit(request.auth)
    try:
        return services.session_start(user=user, payload=payload, idempotency_key=key, request_digest=digest,
                                      api_key=request.auth)
    except IntegrityError:  # a concurrent retry with the same key won the insert; ours rolled back whole
        if session := services.session_replay(user=user, idempotency_key=key, request_digest=digest):
            return session
        raise


@router.post("/videos/generate", response={201: dict}, summary="Generate a video from a prompt (and images)")
def generate(request: ApiRequest, payload: GenerateIn) -> Status[dict[str, Any]]:
    session = _create(request, payload)
    return Status(201, _created(request, session))


@router.post("/videos/sessions", response={201: dict}, summary="Create a timed session that makes several videos")
def session_create(request: ApiRequest, payload: SessionIn) -> Status[dict[str, Any]]:
    session = _create(request, payload)
    body = _created(request, session)
    body.update(status=session.status, session=session_dict(session))
    return Status(201, body)


@router.get("/videos/sessions", response=dict, summary="List your sessions")
def session_list(request: ApiRequest, filters: Query[SessionListQuery]) -> dict[str, Any]:
    qs = selectors.sessions_for_user(user=request.auth.owner, status=filters.status, search=filters.search)
    items, pagination = _page(qs, filters)
    stats = selectors.session_stats(user=request.auth.owner)
    summary = {**stats["by_status"], "total_sessions": stats["total_sessions"], "total_videos": stats["total_videos"],
               "total_credits_used": stats["total_credits_used"]}
    return {"success": True, "sessions": [session_dict(s) for s in items], "pagination": pagination,
            "summary": summary}


@router.get("/videos/sessions/{session_id}", response=dict, summary="A session and its videos")
def session_detail(request: ApiRequest, session_id: str, paging: Query[SessionPageQuery]) -> dict[str, Any]:
    session = selectors.session_get(user=request.auth.owner, public_id=session_id)
    items, pagination = _page(selectors.session_videos(session=session), paging)
    base = base_url(request)
    return {"success": True, "session": session_dict(session), "videos": [video_dict(v, base=base) for v in items],
            "pagination": pagination}


@router.post("/videos/sessions/{session_id}/stop", response=dict, summary="Stop a running session")
def session_stop(request: ApiRequest, session_id: str) -> dict[str, Any]:
    session = selectors.session_get(user=request.auth.owner, public_id=session_id)
    services.session_stop(session=session)
    session = selectors.session_get(user=request.auth.owner, public_id=session_id)
    return {"success": True, "message": f"Session {session.status}.", "session": session_dict(session)}


@router.delete("/videos/sessions/{session_id}", response=dict, summary="Delete a session and its videos")
def session_delete(request: ApiRequest, session_id: str) -> dict[str, Any]:
    session = selectors.session_get(user=request.auth.owner, public_id=session_id)
    count = services.session_delete(session=session)
    return {"success": True, "message": f"Session and {count} videos deleted successfully", "videos_deleted": count,
            "session_id": session_id}


@router.get("/videos/history", response=dict, summary="Your videos, newest first")
def history(request: ApiRequest, filters: Query[HistoryQuery]) -> dict[str, Any]:
    qs = selectors.videos_for_user(user=request.auth.owner, status=filters.status, model=filters.model,
                                   search=filters.search)
    items, pagination = _page(qs, filters)
    base = base_url(request)
    return {"success": True, "videos": [video_dict(v, base=base) for v in items], "pagination": pagination}


@router.get("/videos/{video_id}", response=dict, summary="One video")
def video_detail(request: ApiRequest, video_id: str) -> dict[str, Any]:
    video = selectors.video_get(user=request.auth.owner, public_id=video_id)
    return {"success": True, **video_dict(video, base=base_url(request))}


@router.get("/media-pricing/models", response=dict, auth=None, summary="Every model and its price")
def models(request: ApiRequest, query: Query[ModelsQuery]) -> dict[str, Any]:
    items = [model_dict(m) for m in selectors.catalog()]
    return {"success": True, "media_type": query.media_type, "models": items, "count": len(items)}


__all__ = ["router", "Video"]
