"""Helpers shared by the videos pages: cards with their signed links, and paging."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from videos.files import base_url, file_missing, file_url
from videos.models import Video
from videos.serializers import video_dict

PAGE_SIZE = 12


def inputs(video: Video, *, base: str) -> list[dict[str, str]]:
    """The images the video was made from (its session's), with signed links, to show beside the result."""
    labels = {"head_image": "Start image", "tail_image": "End image"}
    if video.session.params.get("tail_image") is None:
        labels["head_image"] = "Input image"
    return [{"label": label, "url": file_url(name, base=base)}
            for which, label in labels.items() if (name := video.session.params.get(which))]


def card(video: Video, *, base: str, remote: bool = False) -> dict[str, Any]:
    """What `videos/_video_card.html#video-card` renders: the row, its API shape (signed URLs), what it allows.

    `file_missing`: a completed video whose file is gone (from the row, or from a filesystem storage: one stat;
    other storages are asked only with `remote`, for a page of one video)."""
    completed = video.status == Video.Status.COMPLETED
    return {
        "video": video,
        "file_missing": completed and file_missing(video.file, remote=remote),
        "info": video_dict(video, base=base),
        "inputs": inputs(video, base=base),
        "can_cancel": not video.is_final,
        "can_retry": video.status == Video.Status.FAILED,
        "cancelled": video.error_code == "cancelled",
    }


def cards(request: HttpRequest, videos: Iterable[Video], *, remote: bool = False) -> list[dict[str, Any]]:
    base = base_url(request)
    return [card(video, base=base, remote=remote) for video in videos]


def page_of(request: HttpRequest, qs: Any, per_page: int = PAGE_SIZE) -> Page:
    """The requested page; a page number past the end gives the last page, garbage gives the first."""
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, for the pagination links."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
