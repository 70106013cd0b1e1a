"""`Client(api_key, base_url)`: the /api/v3 endpoints as Python calls, with typed errors and safe retries."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import requests

from mcpvideo.errors import APIError, RateLimited, ServerError, error_for
from mcpvideo.images import image_value
from mcpvideo.objects import Page, Session, Video

DEFAULT_BASE_URL = "http://127.0.0.1:8000/api/v3"
RETRY_STATUSES = {429, 500, 502, 503, 504}


class Client:
    """A client for one API key. `api_key` defaults to $MCPHUB_API_KEY, `base_url` to $MCPHUB_BASE_URL.

    Failed requests are retried up to `max_retries` times when that is safe: 429 (after Retry-After), 5xx and
    lost connections. Creations carry an Idempotency-Key, so a retried create never makes (or charges) twice.
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *, timeout: float = 60,
                 max_retries: int = 2, session: requests.Session | None = None) -> None:
        self.api_key = api_key or os.environ.get("MCPHUB_API_KEY", "")
        if not self.api_key:
            raise ValueError("an API key is required: pass api_key= or set MCPHUB_API_KEY")
        self.base_url = (base_url or os.environ.get("MCPHUB_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.http = session or requests.Session()
        self.http.headers.update({"X-API-Key": self.api_key, "User-Agent": "mcpvideo-python/0.1.0",
                                  "Accept": "application/json"})
        self.sessions = Sessions(self)

    # --- HTTP -------------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                 idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        params = {k: v for k, v in (params or {}).items() if v is not None}
        retryable = method == "GET" or idempotency_key is not None
        for attempt in range(self.max_retries + 1):
            try:
                response = self.http.request(method, self.base_url + path, json=json, params=params,
                                             headers=headers, timeout=self.timeout)
            except requests.RequestException as e:
                if retryable and attempt < self.max_retries:
                    time.sleep(min(8.0, 0.5 * 2 ** attempt))
                    continue
                raise ServerError(f"could not reach {self.base_url}: {e}", code="connection_error") from e
            if response.status_code < 400:
                try:
                    return response.json()
                except ValueError:
                    raise ServerError(f"{method} {path}: the answer is not JSON", status=response.status_code,
                                      code="invalid_response") from None
            try:
                body = response.json()
            except ValueError:
                body = response.text[:500]
            error = error_for(response.status_code, body, response.headers)
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries and (
                    retryable or response.status_code == 429) and error.code != "model_unavailable":
                wait = error.retry_after if isinstance(error, RateLimited) and error.retry_after else 0.5 * 2 ** attempt
                time.sleep(min(wait, 60.0))
                continue
            raise error
        raise AssertionError("unreachable")

    def _download(self, url: str, path: str | os.PathLike[str]) -> str:
        """Stream a signed file URL to `path`, atomically. The key is not sent: the link is signed (maybe by S3)."""
        target = os.fspath(path)
        partial = f"{target}.part"
        try:
            no_key: dict[str, Any] = {"X-API-Key": None}  # requests drops None headers: the link is signed
            with self.http.get(url, stream=True, timeout=self.timeout, headers=no_key) as response:
                if response.status_code >= 400:
                    raise APIError(f"download failed: HTTP {response.status_code} {response.text[:200]}",
                                   status=response.status_code, code="download_failed")
                with open(partial, "wb") as handle:
                    handle.writelines(response.iter_content(256 * 1024))
        except requests.RequestException as e:
            raise ServerError(f"download failed: {e}", code="connection_error") from e
        os.replace(partial, target)
        return target

    # --- videos -------------------------------------------------------------------------------------------
    def generate(self, *, model: str, prompt: str, image: Any = None, tail_image: Any = None,
                 duration: int | None = None, aspect_ratio: str | None = None, resolution: str | None = None,
                 seed: int | None = None, idempotency_key: str | None = None, **extra: Any) -> Video:
        """Start one video (charged now); returns it at once: call `.wait()` then `.download(path)`."""
        body = _generation_body(model=model, prompt=prompt, image=image, tail_image=tail_image, duration=duration,
                                aspect_ratio=aspect_ratio, resolution=resolution, seed=seed, **extra)
        created = self._request("POST", "/videos/generate", json=body,
                                idempotency_key=idempotency_key or str(uuid.uuid4()))
        video = Video(self, {"video_id": created["video_id"], "session_id": created.get("session_id"),
                             "model": created.get("model"), "prompt": created.get("prompt")})
        try:
            return video.refresh()  # the full video object (status, progress, simulated, …)
        except APIError:
            video._update({"status": created.get("status"), "credits_used": created.get("credits_used")})
            return video

    def video(self, video_id: str) -> Video:
        return Video(self, self._request("GET", f"/videos/{video_id}"))

    def history(self, *, page: int = 1, page_size: int = 20, status: str | None = None,
                model: str | None = None, search: str | None = None) -> Page[Video]:
        data = self._request("GET", "/videos/history", params={"page": page, "page_size": page_size,
                                                               "status": status, "model": model, "search": search})
        return _page(data, [Video(self, v) for v in data.get("videos", [])])

    def models(self) -> list[dict[str, Any]]:
        return self._request("GET", "/media-pricing/models", params={"media_type": "video"}).get("models", [])

    def credits(self) -> dict[str, Any]:
        """`{"remaining_credits": …, …}` with the latest ledger entries."""
        data = self._request("GET", "/credits")
        data.pop("success", None)
        return data


class Sessions:
    """`client.sessions`: timed sessions that make a video every `interval_seconds`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, *, model: str, prompt: str, max_videos: int | None = None, interval_seconds: int | None = None,
               duration_minutes: int | None = None, image: Any = None, tail_image: Any = None,
               duration: int | None = None, idempotency_key: str | None = None, **extra: Any) -> Session:
        body = _generation_body(model=model, prompt=prompt, image=image, tail_image=tail_image, duration=duration,
                                max_videos=max_videos, interval_seconds=interval_seconds,
                                duration_minutes=duration_minutes, **extra)
        created = self._client._request("POST", "/videos/sessions", json=body,
                                        idempotency_key=idempotency_key or str(uuid.uuid4()))
        return self.get(created["session_id"])

    def get(self, session_id: str, *, page: int = 1, page_size: int = 50) -> Session:
        data = self._client._request("GET", f"/videos/sessions/{session_id}",
                                     params={"page": page, "page_size": page_size})
        return Session(self._client, data["session"], [Video(self._client, v) for v in data.get("videos", [])])

    def list(self, *, page: int = 1, page_size: int = 20, status: str | None = None,
             search: str | None = None) -> Page[Session]:
        data = self._client._request("GET", "/videos/sessions", params={"page": page, "page_size": page_size,
                                                                        "status": status, "search": search})
        return _page(data, [Session(self._client, s) for s in data.get("sessions", [])], summary=data.get("summary"))

    def stop(self, session_id: str) -> Session:
        data = self._client._request("POST", f"/videos/sessions/{session_id}/stop")
        return Session(self._client, data["session"])

    def delete(self, session_id: str) -> int:
        """Delete the session and its videos (files too); returns how many videos went."""
        return int(self._client._request("DELETE", f"/videos/sessions/{session_id}").get("videos_deleted", 0))


def _generation_body(*, model: str, prompt: str, image: Any, tail_image: Any, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "prompt": prompt}
    if image is not None:
        body["head_image"] = image_value(image)
    if tail_image is not None:
        body["tail_image"] = image_value(tail_image)
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


def _page(data: dict[str, Any], items: list[Any], summary: dict[str, Any] | None = None) -> Page[Any]:
    pagination = data.get("pagination") or {}
    return Page(items=items, page=int(pagination.get("page", 1)), page_size=int(pagination.get("page_size", 0)),
                total_count=int(pagination.get("total_count", len(items))),
                total_pages=int(pagination.get("total_pages", 1)), summary=summary)
