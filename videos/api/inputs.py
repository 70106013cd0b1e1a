"""Request schemas of /api/v3: the bodies (videos/schemas.py, shared with the dashboard), queries and paths."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from videos.schemas import ApiInput, GenerateIn, SessionIn, nul_free

__all__ = [
    "GenerateIn",
    "HistoryQuery",
    "ModelsQuery",
    "PageQuery",
    "PublicId",
    "SessionIn",
    "SessionListQuery",
    "SessionPageQuery",
    "WaitQuery",
]

PublicId = Annotated[str, BeforeValidator(nul_free), Field(description="A public id: ses_… or vid_…")]


class PageQuery(ApiInput):
    page: int = Field(1, ge=1, le=100_000, description="Page number, from 1.")
    page_size: int = Field(20, ge=1, le=100, description="Items per page (at most 100).")


class SessionListQuery(PageQuery):
    status: Literal["pending", "running", "completed", "error", "stopped"] | None = None
    search: str | None = Field(None, max_length=200, description="Part of the prompt, any case.")


class HistoryQuery(PageQuery):
    status: Literal["pending", "processing", "completed", "failed"] | None = None
    model: str | None = Field(None, max_length=80, description="A catalog model id.")
    search: str | None = Field(None, max_length=200, description="Part of the prompt, any case.")


WAIT = Field(
    None, ge=1, le=60,
    description="Long-poll: answer as soon as something changes (status, progress, a new video) or after this many "
                "seconds (1-60), with the state then. With If-None-Match, the timeout answers 304 if nothing "
                "changed. A final resource answers at once. Served by the ASGI server (`manage.py serve`, the "
                "image); under a plain WSGI server the answer is immediate.",
)


class WaitQuery(ApiInput):
    wait: int | None = WAIT


class SessionPageQuery(PageQuery):
    page_size: int = Field(50, ge=1, le=100, description="Videos per page (at most 100).")
    wait: int | None = WAIT


class ModelsQuery(ApiInput):
    media_type: Literal["video"] = "video"
