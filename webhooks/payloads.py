"""The object an event carries, exactly as the API returns it. The one place to repoint at new serializers."""

from __future__ import annotations

import json
from typing import Any

from videos.models import GenerationSession, Video


def object_payload(obj: Video | GenerationSession) -> dict[str, Any]:
    """The API's JSON for a video or a session (`GET /videos/{id}`, `GET /videos/sessions/{id}`'s session)."""
    from ninja.responses import NinjaJSONEncoder

    from billing.services import credit_balance
    from videos.api.outputs import SessionOut, VideoOut
    from videos.files import base_url

    if isinstance(obj, Video):
        out = VideoOut.of(obj, base=base_url(), remaining=credit_balance(user=obj.owner_id))
    else:
        out = SessionOut.of(obj)
    return json.loads(json.dumps(out.model_dump(), cls=NinjaJSONEncoder))  # the API's own JSON encoding


def object_load(kind: str, pk: int) -> Video | GenerationSession | None:
    """Re-read the object after commit, with what its serializer needs."""
    if kind == "video":
        return Video.objects.select_related("session", "model", "owner").filter(pk=pk).first()
    session = GenerationSession.objects.select_related("owner").filter(pk=pk).first()
    if session is None:
        return None
    from videos.selectors import sessions_for_user  # the API's own query, counts included

    return sessions_for_user(user=session.owner).filter(pk=pk).select_related("owner").first()
