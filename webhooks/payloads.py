"""The object an event carries, exactly as the API returns it. The one place to repoint at new serializers."""

from __future__ import annotations

from typing import Any

from videos.models import GenerationSession, Video


def object_payload(obj: Video | GenerationSession) -> dict[str, Any]:
    """The API's JSON for a video or a session (`GET /videos/{id}`, `GET /videos/sessions/{id}`'s session)."""
    from videos.files import base_url
    from videos.serializers import session_dict, video_dict

    if isinstance(obj, Video):
        return video_dict(obj, base=base_url())
    return session_dict(obj)


def object_load(kind: str, pk: int) -> Video | GenerationSession | None:
    """Re-read the object after commit, with what its serializer needs."""
    if kind == "video":
        return Video.objects.select_related("session", "model", "owner").filter(pk=pk).first()
    session = GenerationSession.objects.select_related("owner").filter(pk=pk).first()
    if session is None:
        return None
    from videos.selectors import sessions_for_user  # the API's own query, counts included

    return sessions_for_user(user=session.owner).filter(pk=pk).select_related("owner").first()
