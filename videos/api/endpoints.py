"""/api/v3 video endpoints: thin views over services and selectors, typed in and out (inputs, outputs)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpResponse
from ninja import Header, Query, Router
from ninja.responses import Status

from billing import services as billing
from dashboard.api import rate_limit
from dashboard.http import ApiRequest
from dashboard import pollcache
from dashboard.conditional import not_modified
from videos import selectors, services, versions
from videos.api.errors import CREATE, POLL, POLL_ONE, PUBLIC_POLL, READ_ONE, WRITE_ONE
from videos.api.inputs import (
    GenerateIn,
    HistoryQuery,
    ModelsQuery,
    PageQuery,
    PublicId,
    SessionIn,
    SessionListQuery,
    SessionPageQuery,
    WaitQuery,
)
from videos.api.outputs import (
    CreatedOut,
    HistoryOut,
    ModelOut,
    ModelsOut,
    Pagination,
    SessionDeleteOut,
    SessionDetailOut,
    SessionListOut,
    SessionListSummary,
    SessionOut,
    SessionStopOut,
    VendorHealthOut,
    VideoDetailOut,
    VideoOut,
    spelling,
)
from videos.exceptions import InvalidInput
from videos.files import base_url
from videos.health import vendors_health, videos_queue
from videos.models import GenerationSession

router = Router(tags=["videos"])

IdempotencyKey = Header(
    None, alias="Idempotency-Key", max_length=128,
    description="Any string up to 128 characters: a retried POST with the same key and body gets the first "
                "answer back and is charged once.",
)


def _pagination(query: PageQuery, total: int) -> Pagination:
    pages = max(1, math.ceil(total / query.page_size))
    return Pagination(page=query.page, page_size=query.page_size, total_count=total, total_pages=pages,
                      has_next=query.page < pages, has_previous=query.page > 1)


def _page(qs: Any, query: PageQuery) -> tuple[list[Any], Pagination]:
    """One page and its pagination: the COUNT is read only when the page does not tell the total itself
    (a first page that is not full holds every row)."""
    start = (query.page - 1) * query.page_size
    items = list(qs[start:start + query.page_size])
    total = len(items) if query.page == 1 and len(items) < query.page_size else qs.count()
    return items, _pagination(query, total)


def _created(request: ApiRequest, session: GenerationSession) -> CreatedOut:
    user = request.auth.owner
    session = selectors.session_get(user=user, public_id=session.public_id)  # with its counts and credits
    first = selectors.session_videos(session=session).first()  # a create always makes the first video
    assert first is not None
    video = VideoOut.of(first, base=base_url(request), remaining=billing.credit_balance(user=user))
    return CreatedOut(
        session_id=session.public_id, video_id=video.video_id, status=video.status, session_status=session.status,
        credits_used=video.credits_used, remaining_credits=video.remaining_credits, model=video.model,
        provider=video.provider, simulated=video.simulated, prompt=session.prompt, duration=video.duration,
        aspect_ratio=video.aspect_ratio, resolution=spelling(video.resolution), video_url=video.video_url,
        thumbnail_url=video.thumbnail_url, processing_time=video.processing_time,
        queue_position=video.queue_position, eta_seconds=video.eta_seconds, created_at=session.created_at,
        session=SessionOut.of(session),
    )


def _create(request: ApiRequest, payload: GenerateIn, key: str | None) -> GenerationSession:
    """Validate and create, once per Idempotency-Key: a retried POST gets the first session back, uncharged."""
    key = (key or "").strip()
    if "\x00" in key:
        raise InvalidInput("Idempotency-Key must not contain NUL characters.", field="Idempotency-Key")
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


@router.post("/videos/generate", response={201: CreatedOut, **CREATE},
             summary="Generate a video from a prompt (and images)")
def generate(request: ApiRequest, payload: GenerateIn,
             idempotency_key: str | None = IdempotencyKey) -> Status[CreatedOut]:
    return Status(201, _created(request, _create(request, payload, idempotency_key)))


@router.post("/videos/sessions", response={201: CreatedOut, **CREATE},
             summary="Create a timed session that makes several videos")
def session_create(request: ApiRequest, payload: SessionIn,
                   idempotency_key: str | None = IdempotencyKey) -> Status[CreatedOut]:
    return Status(201, _created(request, _create(request, payload, idempotency_key)))


@router.get("/videos/sessions", response={200: SessionListOut, **POLL}, summary="List your sessions")
def session_list(request: ApiRequest, filters: Query[SessionListQuery]) -> SessionListOut | HttpResponse:
    user = request.auth.owner
    version = (versions.sessions_stamp(user_id=user.pk), versions.videos_stamp(user_id=user.pk),
               versions.account_stamp(user_id=user.pk))
    if hit := not_modified(request, version):
        return hit
    qs = selectors.sessions_for_user(user=user, status=filters.status, search=filters.search)
    items, pagination = _page(qs, filters)
    stats: dict[str, Any] = selectors.session_stats(user=user, status=filters.status, search=filters.search)
    summary = SessionListSummary(**stats["by_status"], total_sessions=stats["total_sessions"],
                                 total_videos=stats["total_videos"], total_credits_used=stats["total_credits_used"])
    return SessionListOut(sessions=[SessionOut.of(s) for s in items], pagination=pagination, summary=summary)


@router.get("/videos/sessions/{session_id}", response={200: SessionDetailOut, **POLL_ONE},
            summary="A session and its videos")
def session_detail(request: ApiRequest, session_id: PublicId, paging: Query[SessionPageQuery],
                   ) -> SessionDetailOut | HttpResponse:
    """The poll path: one read of the page's version (videos.versions) answers a 304; a 200 reads the session
    and the page in two more queries, whatever the page size (no COUNT: the version read counted)."""
    version = versions.SessionVersion(user_id=request.auth.owner_id, public_id=session_id, page=paging.page,
                                      page_size=paging.page_size)
    pollcache.mark(request, account_id=request.auth.owner_id, settled=version.settled)
    if hit := not_modified(request, version.parts, retry_after=version.retry_after):
        return hit
    session = selectors.session_counted(pk=version.session_pk, total_videos=version.total,
                                        completed_videos=version.completed)
    items = selectors.session_page(session=session, offset=(paging.page - 1) * paging.page_size,
                                   limit=paging.page_size)
    base, queue = base_url(request), videos_queue(items, ahead=version.ahead)
    return SessionDetailOut(session=SessionOut.of(session), pagination=_pagination(paging, version.total),
                            videos=[VideoOut.of(v, base=base, remaining=version.balance, queue=queue[v.pk])
                                    for v in items])


@router.post("/videos/sessions/{session_id}/stop", response={200: SessionStopOut, **WRITE_ONE},
             summary="Stop a running session (queued videos are cancelled and refunded)")
def session_stop(request: ApiRequest, session_id: PublicId) -> SessionStopOut:
    session = selectors.session_get(user=request.auth.owner, public_id=session_id)
    services.session_stop(session=session)
    session = selectors.session_get(user=request.auth.owner, public_id=session_id)
    return SessionStopOut(message=f"Session {session.status}.", session=SessionOut.of(session))


@router.delete("/videos/sessions/{session_id}", response={200: SessionDeleteOut, **WRITE_ONE},
               summary="Delete a session and its videos")
def session_delete(request: ApiRequest, session_id: PublicId) -> SessionDeleteOut:
    session = selectors.session_get(user=request.auth.owner, public_id=session_id)
    count = services.session_delete(session=session)
    return SessionDeleteOut(message=f"Session and {count} videos deleted successfully", videos_deleted=count,
                            session_id=session_id)


@router.get("/videos/history", response={200: HistoryOut, **POLL}, summary="Your videos, newest first")
def history(request: ApiRequest, filters: Query[HistoryQuery]) -> HistoryOut | HttpResponse:
    user = request.auth.owner
    version = (versions.videos_stamp(user_id=user.pk), versions.queued_ahead(user_id=user.pk),
               versions.account_stamp(user_id=user.pk))
    if hit := not_modified(request, version):
        return hit
    qs = selectors.videos_for_user(user=user, status=filters.status, model=filters.model, search=filters.search)
    items, pagination = _page(qs, filters)
    base, remaining, queue = base_url(request), billing.credit_balance(user=user), videos_queue(items)
    return HistoryOut(videos=[VideoOut.of(v, base=base, remaining=remaining, queue=queue[v.pk]) for v in items],
                      pagination=pagination)


def _sse_event(names: list[str], data: str) -> dict[str, Any]:
    """One server-sent event, as OpenAPI 3.2 describes a stream item (and schemathesis checks each one)."""
    return {
        "type": "object",
        "properties": {
            "event": {"type": "string", "enum": names},
            "data": {"type": "string", "contentMediaType": "application/json", "description": data},
            "id": {"type": "string", "description": "The state the stream has reached (for Last-Event-ID)."},
            "retry": {"type": "integer", "minimum": 0},
        },
    }


_SSE_EVENT = _sse_event(["session", "video", "end"], "session: the session object; video: the video object; end: {}")
_SSE_VIDEO_EVENT = _sse_event(["video", "end"], "video: the video object; end: {}")


def _stream_snapshot(request: ApiRequest, target: Any, events: Callable[[], list[Any]]) -> HttpResponse:
    """A stream's answer under a plain WSGI server (the ASGI server streams: dashboard.live): the current state,
    unless Last-Event-ID says the client has it, then `end` if it is final; EventSource reconnects after `retry`."""
    from dashboard.live import sse
    from videos import live

    tag, final = live.state(target)
    body = f"retry: {int(settings.LIVE_POLL_SECONDS * 4000)}\n\n".encode()
    if request.headers.get("Last-Event-ID") != tag:
        items = events()
        body += b"".join(sse(e.name, e.data, tag if i == len(items) - 1 else None) for i, e in enumerate(items))
    if final:
        body += sse("end", {})
    return HttpResponse(body, content_type="text/event-stream; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get("/videos/sessions/{session_id}/events", response={200: None, **READ_ONE},
            summary="Live stream of a session: server-sent events",
            description="`text/event-stream`: an `event: session` and an `event: video` per video (the objects as "
                        "the session endpoint returns them), then one event per change as it happens, a comment "
                        "line every 15 s, and `event: end` once the session and its videos are final. Each "
                        "batch's last event carries an `id`; reconnecting with it as `Last-Event-ID` skips the "
                        "snapshot when nothing changed. Under a plain WSGI server the stream is the snapshot "
                        "alone, and EventSource reconnects after `retry` ms.",
            openapi_extra={"responses": {200: {"description": "Server-sent events", "content": {
                "text/event-stream": {"schema": _SSE_EVENT}}}}})
def session_events(request: ApiRequest, session_id: PublicId) -> HttpResponse:
    from videos import live

    session = selectors.session_get(user=request.auth.owner, public_id=session_id)
    return _stream_snapshot(request, live.Target(session_pk=session.pk),
                            lambda: live.session_events(session_pk=session.pk, base=base_url(request)))


# After the session routes: /videos/sessions/events stays a session id.
@router.get("/videos/{video_id}/events", response={200: None, **READ_ONE},
            summary="Live stream of one video: server-sent events",
            description="`text/event-stream`: an `event: video` with the video as `GET /videos/{video_id}` returns "
                        "it, then one per change as it happens (status, progress, its file), a comment line every "
                        "15 s, and `event: end` once it is final (completed or failed). Each event carries an "
                        "`id`; reconnecting with it as `Last-Event-ID` skips the snapshot when nothing changed. "
                        "Under a plain WSGI server the stream is the snapshot alone, and EventSource reconnects "
                        "after `retry` ms.",
            openapi_extra={"responses": {200: {"description": "Server-sent events", "content": {
                "text/event-stream": {"schema": _SSE_VIDEO_EVENT}}}}})
def video_events(request: ApiRequest, video_id: PublicId) -> HttpResponse:
    from videos import live

    video = selectors.video_get(user=request.auth.owner, public_id=video_id)
    return _stream_snapshot(request, live.Target(session_pk=video.session_id, video_pk=video.pk),
                            lambda: live.video_events(video_pk=video.pk, base=base_url(request)))


@router.get("/videos/{video_id}", response={200: VideoDetailOut, **POLL_ONE}, summary="One video")
def video_detail(request: ApiRequest, video_id: PublicId, params: Query[WaitQuery]) -> VideoDetailOut | HttpResponse:
    version = versions.VideoVersion(user_id=request.auth.owner_id, public_id=video_id)
    pollcache.mark(request, account_id=request.auth.owner_id, settled=version.settled)
    if hit := not_modified(request, version.parts, retry_after=version.retry_after):
        return hit
    video = selectors.video_get(user=request.auth.owner, public_id=video_id)
    queue = videos_queue([video], ahead=version.ahead)[video.pk]
    out = VideoOut.of(video, base=base_url(request), remaining=version.balance, queue=queue)
    return VideoDetailOut(**out.model_dump())


@router.get("/media-pricing/models", response={200: ModelsOut, **PUBLIC_POLL}, auth=None,
            summary="Every model and its price")
def models(request: ApiRequest, query: Query[ModelsQuery]) -> ModelsOut | HttpResponse:
    if hit := not_modified(request, versions.catalog_stamp()):
        return hit
    health = vendors_health()  # cached a few seconds: a handful of aggregate queries at most
    items = [ModelOut.of(m, health=health) for m in selectors.catalog()]
    return ModelsOut(media_type=query.media_type, models=items, count=len(items),
                     vendors=[VendorHealthOut.of(h) for h in health.values()])


__all__ = ["router"]
