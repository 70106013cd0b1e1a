"""What the client returns: a Video you can wait for and download, a Session, a Page of either."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mcpvideo.errors import APIError, GenerationFailed, WaitTimeout

if TYPE_CHECKING:
    from mcpvideo.client import Client

FINAL = {"completed", "failed"}
T = TypeVar("T")


class _Fields:
    """Attributes read through to the API object's fields (`video.status`, `session.max_videos`, …)."""

    data: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None


class Video(_Fields):
    """One video. Attributes mirror the API's video object (`video.status`, `video.video_url`, …)."""

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        self._client = client
        self.data: dict[str, Any] = {}
        self._update(data)

    def _update(self, data: dict[str, Any]) -> None:
        self.data.update({k: v for k, v in data.items() if k != "success"})

    @property
    def id(self) -> str:
        return self.data["video_id"]

    @property
    def progress(self) -> int:
        if self.data.get("status") == "completed":
            return 100
        return int(self.data.get("progress") or 0)

    @property
    def done(self) -> bool:
        return self.data.get("status") in FINAL

    def __repr__(self) -> str:
        return f"<Video {self.data.get('video_id')} {self.data.get('status')} {self.progress}%>"

    def refresh(self) -> Video:
        self._update(self._client._request("GET", f"/videos/{self.id}"))
        return self

    def wait(self, *, on_progress: Callable[[Video], None] | None = None, timeout: float = 600,
             interval: float = 2.0) -> Video:
        """Poll until the video is completed; raises GenerationFailed if it failed, WaitTimeout after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            if on_progress:
                on_progress(self)
            if self.done:
                break
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"video {self.id} is still {self.data.get('status')} after {timeout:g} s",
                                  code="wait_timeout")
            time.sleep(interval)
            self.refresh()
        if self.data.get("status") == "failed":
            raise GenerationFailed(self.data.get("error") or "the video failed", code=self.data.get("error_code"),
                                   video=self)
        return self

    def download(self, path: str | os.PathLike[str], *, variant: str = "video") -> str:
        """Save the MP4 (or `variant="thumbnail"`) to `path`; returns the path. Waits for nothing: see wait()."""
        url = self.data.get("thumbnail_url" if variant == "thumbnail" else "video_url")
        if not url:
            self.refresh()
            url = self.data.get("thumbnail_url" if variant == "thumbnail" else "video_url")
        if not url:
            raise APIError(f"video {self.id} has no file yet (status {self.data.get('status')}): wait() first",
                           code="not_ready")
        return self._client._download(url, path)


@dataclass
class Session(_Fields):
    """A generation session: one video (`generate`) or a timed series (`sessions.create`)."""

    client: Client = field(repr=False)
    data: dict[str, Any]
    videos: list[Video] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.data["session_id"]

    def refresh(self) -> Session:
        fresh = self.client.sessions.get(self.id)
        self.data, self.videos = fresh.data, fresh.videos
        return self

    def stop(self) -> Session:
        return self.client.sessions.stop(self.id)

    def delete(self) -> int:
        return self.client.sessions.delete(self.id)


@dataclass
class Page(Generic[T]):
    """One page of a list, with the API's pagination numbers."""

    items: list[T]
    page: int
    page_size: int
    total_count: int
    total_pages: int
    summary: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages
