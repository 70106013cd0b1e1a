"""Helpers shared by the videos pages: cards with their signed links, and paging."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from videos.files import base_url
from videos.models import Video
from videos.serializers import video_dict

PAGE_SIZE = 12


def cards(request: HttpRequest, videos: Iterable[Video]) -> list[dict[str, Any]]:
    """What `videos/_video_card.html#video-card` renders: the row and its API shape (signed URLs)."""
    base = base_url(request)
    return [{"video": video, "info": video_dict(video, base=base)} for video in videos]


def page_of(request: HttpRequest, qs: Any, per_page: int = PAGE_SIZE) -> Page:
    """The requested page; a page number past the end gives the last page, garbage gives the first."""
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, for the pagination links."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
