"""Change signals for long-polls and live streams: what a waiting client is woken by, and what it compares.

Writers call `changed(session_pk)` in the transaction that changed something a client sees (a video's status
or progress, a new video, the session's status). When Redis is configured (REDIS_URL) the session's pk is
published on LIVE_CHANNEL once the transaction commits; each web process holds one subscription and wakes
its waiters (dashboard.live). On the default setup (no Redis) nothing is published: waiters re-read the
state tag every LIVE_POLL_SECONDS, one small query.

A *state tag* is a digest of exactly what a waiting client is waiting for: the session's status, its videos
(id, status, progress) and, for one video, that video's status and progress. Timestamps, signed URLs,
balances and queue positions are left out on purpose: they move without anything happening to the work.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any
from functools import cache

from django.conf import settings
from django.db import transaction

from videos.models import GenerationSession, Video

log = logging.getLogger(__name__)


@cache
def _redis() -> object | None:
    if not settings.LIVE_REDIS_URL:
        return None
    import redis

    return redis.Redis.from_url(settings.LIVE_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def publish(session_pks: list[int]) -> None:
    """Publish now (after a commit). A lost signal costs a waiter LIVE_SAFETY_SECONDS, never an answer."""
    client = _redis()
    if client is None or not session_pks:
        return
    try:
        client.publish(settings.LIVE_CHANNEL, ",".join(str(pk) for pk in sorted(set(session_pks))))  # type: ignore[attr-defined]
    except Exception as e:  # noqa: BLE001 - Redis down: waiters fall back to their periodic re-check
        log.warning("live.publish_failed", extra={"error": type(e).__name__})


def changed(session_pk: int | list[int] | None) -> None:
    """Signal a change of `session_pk` (or several) once the current transaction commits (at once outside one)."""
    if session_pk is None or settings.LIVE_REDIS_URL == "":
        return
    pks = session_pk if isinstance(session_pk, list) else [session_pk]
    transaction.on_commit(lambda: publish(pks))


def changed_videos(video_pks: list[int]) -> None:
    """`changed` for the sessions of these videos (one query)."""
    if settings.LIVE_REDIS_URL == "" or not video_pks:
        return
    changed(list(Video.objects.filter(pk__in=video_pks).values_list("session_id", flat=True).distinct()))


@dataclass(frozen=True)
class Target:
    """What one waiter watches: a session (all its videos) or one video of it."""

    session_pk: int
    video_pk: int | None = None


def _digest(parts: list[object]) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def state(target: Target) -> tuple[str, bool]:
    """(tag, final) of `target` now. Final: nothing more will change (the session and its videos are all done).

    One query for a video, two for a session; absent (deleted) counts as final, with its own tag.
    """
    if target.video_pk is not None:
        row = Video.objects.filter(pk=target.video_pk).values_list("status", "progress").first()
        if row is None:
            return "gone", True
        return _digest(list(row)), row[0] in Video.FINAL
    status = GenerationSession.objects.filter(pk=target.session_pk).values_list("status", flat=True).first()
    if status is None:
        return "gone", True
    videos = list(Video.objects.filter(session_id=target.session_pk).order_by("sequence").values_list(
        "pk", "status", "progress"))
    final = status in GenerationSession.FINAL and all(v[1] in Video.FINAL for v in videos)
    return _digest([status, videos]), final


def api_target(*, key: str, kind: str, public_id: str) -> Target | None:
    """The session or video `public_id` of the key's owner, or None (no key, a bad key, absent, another
    account's): the caller then lets the endpoint answer, which says which (401/404) in the API's own words."""
    from billing import services as billing

    if "\x00" in key or "\x00" in public_id:
        return None
    api_key = billing.api_key_authenticate(key)
    if api_key is None:
        return None
    if kind == "session":
        pk = GenerationSession.objects.filter(owner_id=api_key.owner_id, public_id=public_id).values_list(
            "pk", flat=True).first()
        return Target(session_pk=pk) if pk is not None else None
    row = Video.objects.filter(owner_id=api_key.owner_id, public_id=public_id).values_list("pk", "session_id").first()
    return Target(session_pk=row[1], video_pk=row[0]) if row is not None else None


@dataclass(frozen=True)
class Event:
    """One server-sent event: `name` (session | video), the object's `key` and `digest` (what a client sees
    change), and `data`, the object as the API returns it."""

    name: str
    key: str
    digest: str
    data: dict[str, object]


def session_events(*, session_pk: int, base: str) -> list[Event]:
    """The session and each of its videos (at most 100, the most a session makes) as the API shows them."""
    from billing import services as billing
    from videos import selectors
    from videos.api.outputs import SessionOut, VideoOut
    from videos.health import videos_queue

    session = _session_with_counts(session_pk)
    if session is None:
        return []
    videos = list(selectors.session_videos(session=session)[:100])
    remaining, queue = billing.credit_balance(user=session.owner), videos_queue(videos)
    out = _as_api(SessionOut.of(session))
    events = [Event("session", session.public_id,
                    _digest([out["status"], out["total_videos"], out["completed_videos"], out.get("error")]), out)]
    for video in videos:
        events.append(_video_event(VideoOut.of(video, base=base, remaining=remaining, queue=queue[video.pk]), video))
    return events


def _as_api(out: Any) -> dict[str, object]:
    """`out` (a schema) as the API's JSON renders it (its encoder: times to the millisecond)."""
    from ninja.responses import NinjaJSONEncoder

    return json.loads(json.dumps(out.model_dump(), cls=NinjaJSONEncoder))


def _video_event(out: Any, video: Video) -> Event:
    data = _as_api(out)
    return Event("video", video.public_id,
                 _digest([video.status, video.progress, video.error, bool(data.get("video_url"))]), data)


def video_events(*, video_pk: int, base: str) -> list[Event]:
    """The video as `GET /api/v3/videos/{id}` shows it (one event), or none once it is gone."""
    from billing import services as billing
    from videos import selectors
    from videos.api.outputs import VideoOut

    row = Video.objects.select_related("owner").filter(pk=video_pk).first()
    if row is None:
        return []
    video = selectors.videos_for_user(user=row.owner).filter(pk=video_pk).first()
    if video is None:
        return []
    return [_video_event(VideoOut.of(video, base=base, remaining=billing.credit_balance(user=row.owner)), video)]


def _session_with_counts(session_pk: int) -> GenerationSession | None:
    from videos import selectors

    row = GenerationSession.objects.select_related("owner").filter(pk=session_pk).first()
    if row is None:
        return None
    return selectors.sessions_for_user(user=row.owner).select_related("owner").filter(pk=session_pk).first()


def dashboard_targets(*, request: Any, public_ids: list[str]) -> dict[str, Target] | None:
    """The logged-in user's videos and sessions among `public_ids` (others are left out), or None when the
    request's session cookie names no user."""
    from importlib import import_module

    from django.contrib.auth import get_user

    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    user = get_user(request)
    if not user.is_authenticated:
        return None
    videos = [i for i in public_ids if i.startswith("vid_")]
    sessions = [i for i in public_ids if i.startswith("ses_")]
    targets = {pid: Target(session_pk=s, video_pk=pk) for pid, pk, s in Video.objects.filter(
        owner=user, public_id__in=videos).values_list("public_id", "pk", "session_id")}
    targets.update({pid: Target(session_pk=pk) for pid, pk in GenerationSession.objects.filter(
        owner=user, public_id__in=sessions).values_list("public_id", "pk")})
    return targets


def dashboard_snapshot(*, public_ids: list[str]) -> list[dict[str, object]]:
    """What a page compares with what it shows: each video's status and progress, each session's status and
    its counts of videos (a new one means a new card)."""
    rows: list[dict[str, object]] = [
        {"kind": "video", "id": pid, "status": status, "progress": progress}
        for pid, status, progress in Video.objects.filter(public_id__in=public_ids).values_list(
            "public_id", "status", "progress")]
    for pid, status, pk in GenerationSession.objects.filter(public_id__in=public_ids).values_list(
            "public_id", "status", "pk"):
        count = Video.objects.filter(session_id=pk).count()
        rows.append({"kind": "session", "id": pid, "status": status, "videos": count})
    return rows
