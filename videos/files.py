"""Stored files and their links: signed, expiring, absolute URLs that work without the API key.

On the filesystem storage we sign `/files/<name>?expires=<unix>&signature=<hmac>` ourselves (the same idea as
an S3 presigned URL) and `file_serve` answers them, Range requests included; on S3-compatible storage
(AWS_STORAGE_BUCKET_NAME) the storage presigns a GET for the TTL asked for and the S3 server serves ranges.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_http_methods

CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _signature(name: str, expires: int) -> str:
    return _signed(settings.SECRET_KEY, name, expires)


def _signed(secret: str, name: str, expires: int) -> str:
    key = hashlib.sha256(b"file-url:" + secret.encode()).digest()
    return hmac.new(key, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()


def url_expiry(ttl: int | None = None) -> int:
    """When links signed now expire: rounded up to the hour, so repeated polls return the same URL (browsers
    can cache the file, and an answer's ETag changes only when its links are renewed)."""
    return (int(time.time()) + (ttl or settings.FILE_URL_TTL)) // 3600 * 3600 + 3600


def base_url(request: HttpRequest | None = None) -> str:
    """Where clients reach us: PUBLIC_BASE_URL, else the current request's host, else the local server."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return f"http://127.0.0.1:{settings.PORT}"


# SigV4 presigned URLs live at most 7 days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def file_url(name: str, *, base: str, ttl: int | None = None) -> str:
    """An absolute, signed, expiring URL for a stored file, valid `ttl` seconds (default FILE_URL_TTL);
    "" when there is no file."""
    if not name:
        return ""
    ttl = ttl or settings.FILE_URL_TTL
    storage: Any = storages["default"]  # what default_storage stands for, without its proxy on every access
    if not isinstance(storage, FileSystemStorage):
        if hasattr(storage, "bucket_name"):  # S3-compatible: presigned by the storage for exactly `ttl`
            return str(storage.url(name, expire=min(ttl, MAX_PRESIGN_SECONDS)))
        return str(storage.url(name))
    return _file_link(base, settings.MEDIA_URL, settings.SECRET_KEY, name, url_expiry(ttl))


@lru_cache(maxsize=8192)
def _file_link(base: str, media_url: str, secret: str, name: str, expires: int) -> str:
    """Remembered: a poll links the same files with the same expiry (rounded to the hour) again and again, and
    a page of 50 videos has 150 links."""
    query = urlencode({"expires": expires, "signature": _signed(secret, name, expires)})
    return f"{base}{media_url}{quote(name)}?{query}"


def file_save(name: str, content: bytes | File) -> str:
    """Store `content` under `name` (replacing a file left there by an interrupted run); returns the name."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, content if isinstance(content, File) else ContentFile(content))


def files_delete(*names: str) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def _stream(handle: File, start: int, length: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    try:
        handle.seek(start)
        while length > 0:
            data = handle.read(min(chunk, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()


def _error(status: int, code: str, message: str) -> HttpResponse:
    """The API's JSON error shape (a browser or a client following a link reads why, never a 500)."""
    from dashboard.http import error_response

    return error_response(status, code, message)


MISSING = "This file is no longer stored (deleted, or lost from storage); the video cannot be downloaded."


def file_missing(name: str, *, remote: bool = False) -> bool:
    """Whether the stored file `name` is gone. An empty name is gone. The filesystem storage answers with one
    stat; other storages (S3: an HTTP request) are asked only when `remote` (one file on a page, never a list
    or a poll), else the file is assumed there."""
    if not name:
        return True
    storage: Any = storages["default"]
    if isinstance(storage, FileSystemStorage) or remote:
        try:
            return not storage.exists(name)
        except Exception:  # noqa: BLE001 - an unreachable storage says nothing about the file: assume it is there
            return False
    return False


@require_http_methods(["GET", "HEAD"])
def file_serve(request: HttpRequest, name: str) -> HttpResponse | StreamingHttpResponse:
    """Serve a stored file to whoever holds a valid signed link; answer Range requests (seeking)."""
    try:
        expires = int(request.GET.get("expires", ""))
    except ValueError:
        return _error(403, "link_unsigned", "This link is not signed.")
    if not hmac.compare_digest(_signature(name, expires), request.GET.get("signature", "")):
        return _error(403, "link_invalid", "This link's signature is not valid.")
    if expires < time.time():
        return _error(410, "link_expired", "This link has expired; fetch the video again to get a fresh one.")
    if ".." in name.split("/"):
        return _error(404, "not_found", "No such file.")
    try:  # the file may go at any moment: between the check, the size and the open below
        if not default_storage.exists(name):
            return _error(404, "file_missing", MISSING)
        size = default_storage.size(name)
    except FileNotFoundError:
        return _error(404, "file_missing", MISSING)
    content_type = CONTENT_TYPES.get(name[name.rfind("."):].lower(), "application/octet-stream")
    start, end, status = 0, size - 1, 200
    if match := _RANGE.match(request.headers.get("Range", "").strip()):
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        elif last:
            start = max(0, size - int(last))
        if start > end or start >= size:
            refused = _error(416, "range_not_satisfiable", "Requested range not satisfiable.")
            refused["Content-Range"] = f"bytes */{size}"
            return refused
        status = 206
    length = end - start + 1
    response: HttpResponse | StreamingHttpResponse
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        try:
            handle = default_storage.open(name, "rb")
        except FileNotFoundError:
            return _error(404, "file_missing", MISSING)
        response = StreamingHttpResponse(_stream(handle, start, length), status=status, content_type=content_type)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
