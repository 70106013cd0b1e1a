"""/v1/videos: thin endpoints over `videos.services` and `videos.selectors` (no workflow of their own)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from django.core.files.storage import default_storage
from django.db import IntegrityError
from django.db.models import Q
from django.http import FileResponse, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from dashboard.api import rate_limit
from dashboard.http import ApiRequest
from openai_compat import inputs
from openai_compat.errors import openai_error
from openai_compat.outputs import ErrorOut, VideoDeletedOut, VideoListOut, VideoOut, video_out
from dashboard.conditional import not_modified
from videos import selectors, services, versions
from videos.exceptions import InvalidInput, NotFound
from videos.files import file_missing
from videos.models import GenerationSession, Video
from videos.schemas import GenerateIn
from videos.spritesheet import spritesheet_make

router = Router(tags=["videos (OpenAI-compatible)"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 429: ErrorOut, 503: ErrorOut}

_CREATE_BODY = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string"},
        "model": {"type": "string", "default": "sora-2", "description": "sora-2, sora-2-pro or any catalog model id"},
        "seconds": {"type": "string", "example": "4"},
        "size": {"type": "string", "example": "1280x720"},
        "input_reference": {"description": "multipart: an image file; JSON: an image URL, a data URI or "
                                           "{\"image_url\": …}"},
    },
}
_CREATE_DOC = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {**_CREATE_BODY, "properties": {
        **_CREATE_BODY["properties"], "input_reference": {"type": "string", "format": "binary"}}}},
    "application/json": {"schema": _CREATE_BODY},
}}}
_CONTENT_DOC = {"responses": {"200": {"description": "The file", "content": {
    "video/mp4": {"schema": {"type": "string", "format": "binary"}},
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}}}


_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _video(request: ApiRequest, video_id: str) -> Video:
    if not _ID.match(video_id):  # nothing odd (NUL, a kilobyte of text) reaches the database
        raise NotFound("No such video.", field="video_id")
    return selectors.video_get(user=request.auth.owner, public_id=video_id)


def _not_modified(request: ApiRequest, video_id: str) -> HttpResponse | None:
    """A 304 when If-None-Match names the video's current ETag (dashboard.conditional); before any other read."""
    if not _ID.match(video_id):
        raise NotFound("No such video.", field="video_id")
    version = versions.VideoVersion(user_id=request.auth.owner_id, public_id=video_id)
    return not_modified(request, version.parts, retry_after=version.retry_after)


class ListQuery(Schema):
    after: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    limit: int = Field(20, ge=1, le=100)
    order: Literal["asc", "desc"] = "desc"


class ContentQuery(Schema):
    variant: Literal["video", "thumbnail", "spritesheet"] = "video"


def _start(request: ApiRequest, payload: GenerateIn) -> GenerationSession:
    """The shared create path: once per Idempotency-Key, rate limited, validated and charged by the services."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 128:
        raise InvalidInput("Idempotency-Key must be at most 128 characters.", field="Idempotency-Key")
    digest = hashlib.sha256(json.dumps(["v1", payload.model_dump(mode="json")], sort_keys=True).encode()).hexdigest()
    user = request.auth.owner
    if session := services.session_replay(user=user, idempotency_key=key, request_digest=digest):
        return session
    rate_limit(request.auth)
    try:
        return services.session_start(user=user, payload=payload, idempotency_key=key, request_digest=digest)
    except IntegrityError:  # a concurrent retry with the same key won the insert
        if session := services.session_replay(user=user, idempotency_key=key, request_digest=digest):
            return session
        raise


@router.post("/videos", response={200: VideoOut, **ERRORS}, openapi_extra=_CREATE_DOC,
             summary="Create a video (JSON or multipart/form-data)")
def video_create(request: ApiRequest) -> dict[str, Any]:
    session = _start(request, inputs.create_payload(request))
    video = session.videos.select_related("model").order_by("sequence").first()
    return video_out(video)


@router.get("/videos", response={200: VideoListOut, 304: None, **ERRORS}, summary="List your videos (cursor pagination)")
def video_list(request: ApiRequest, query: Query[ListQuery]) -> dict[str, Any] | HttpResponse:
    if hit := not_modified(request, versions.videos_stamp(user_id=request.auth.owner_id)):
        return hit
    qs = selectors.videos_for_user(user=request.auth.owner)
    descending = query.order == "desc"
    if not descending:
        qs = qs.order_by("created_at", "id")
    if query.after:
        anchor = qs.filter(public_id=query.after).values("created_at", "id").first()
        if anchor is None:
            raise InvalidInput(f"No video with id '{query.after}' to list after.", field="after")
        if descending:
            qs = qs.filter(Q(created_at__lt=anchor["created_at"]) | Q(created_at=anchor["created_at"],
                                                                       id__lt=anchor["id"]))
        else:
            qs = qs.filter(Q(created_at__gt=anchor["created_at"]) | Q(created_at=anchor["created_at"],
                                                                       id__gt=anchor["id"]))
    items = list(qs[: query.limit + 1])
    data = [video_out(v) for v in items[: query.limit]]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(items) > query.limit}


@router.get("/videos/{video_id}", response={200: VideoOut, 304: None, **ERRORS}, summary="Retrieve a video")
def video_retrieve(request: ApiRequest, video_id: str) -> dict[str, Any] | HttpResponse:
    if hit := _not_modified(request, video_id):
        return hit
    return video_out(_video(request, video_id))


@router.delete("/videos/{video_id}", response={200: VideoDeletedOut, **ERRORS}, summary="Delete a video")
def video_delete(request: ApiRequest, video_id: str) -> dict[str, Any]:
    video = _video(request, video_id)
    session = video.session
    if session.kind != GenerationSession.Kind.SINGLE:
        return openai_error(409, f"This video belongs to the timed session {session.public_id}: stop or delete the "
                            f"session with /api/v3/videos/sessions/{session.public_id}.", param="video_id",
                            code="video_in_session")
    services.session_delete(session=session)  # refunds a video still being made, removes its files
    return {"id": video_id, "object": "video.deleted", "deleted": True}


@router.get("/videos/{video_id}/content", response={200: None, 304: None, **ERRORS}, openapi_extra=_CONTENT_DOC,
            summary="Download the MP4, its thumbnail or a spritesheet of its frames")
def video_content(request: ApiRequest, video_id: str, query: Query[ContentQuery]) -> HttpResponse:
    if hit := _not_modified(request, video_id):  # the file changes only with the video's row
        return hit
    video = _video(request, video_id)
    if video.status != Video.Status.COMPLETED:
        return openai_error(404, f"Video {video_id} is not ready (status {video_out(video)['status']}): poll "
                            f"GET /v1/videos/{video_id} until it is completed.", param="video_id",
                            code="video_not_ready")
    if query.variant == "thumbnail":
        name, content_type = video.thumbnail, "image/jpeg"
    elif file_missing(video.file, remote=True):  # the MP4, and the spritesheet made from it, need the file
        return openai_error(404, f"Video {video_id} was made, but its file is no longer stored.", param="video_id",
                            code="file_missing")
    elif query.variant == "video":
        name, content_type = video.file, "video/mp4"
    else:
        name, content_type = spritesheet_make(video.file), "image/jpeg"
    if not name or (name != video.file and not default_storage.exists(name)):  # the MP4 was just checked
        return openai_error(404, f"The {query.variant} of {video_id} is not stored.", param="variant",
                            code="not_found")
    suffix = "mp4" if query.variant == "video" else f"{query.variant}.jpg"
    try:  # the file may go between the check and the read
        response = FileResponse(default_storage.open(name, "rb"), content_type=content_type,
                                filename=f"{video_id}.{suffix}")
        response["Content-Length"] = str(default_storage.size(name))
    except FileNotFoundError:
        return openai_error(404, f"The {query.variant} of {video_id} is not stored.", param="variant",
                            code="not_found")
    return response
