"""The two calls the rest of the project makes: accept one image, check a KF2V pair."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from .addresses import Resolver, allow_list
from .content import AcceptedImage, decode_data_uri, inspect
from .errors import fail
from .fetch import fetch


def _settings_allow_hosts() -> list[str]:
    """`settings.OUTBOUND_ALLOW_HOSTS` + `IMAGE_FETCH_ALLOW_HOSTS` (its old name), or nothing without Django."""
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:  # pragma: no cover - Django is a dependency; this keeps the module usable alone
        return []
    try:
        return [*getattr(settings, "OUTBOUND_ALLOW_HOSTS", []), *getattr(settings, "IMAGE_FETCH_ALLOW_HOSTS", [])]
    except ImproperlyConfigured:
        return []


def image_accept(
    value: str,
    *,
    field: str,
    allow_hosts: Iterable[str] | None = None,
    resolver: Resolver = socket.getaddrinfo,
    max_bytes: int = 10 * 1024 * 1024,
    max_pixels: int = 40_000_000,
    timeout: float = 10.0,
) -> AcceptedImage:
    """Fetch or decode `value` (an http(s) URL or a `data:image/...;base64,` URI) and validate it.

    Returns the original bytes with their sniffed type and size; raises `ImageError` naming `field`
    for anything else. URLs must resolve to public addresses only, unless their host is in
    `allow_hosts` (default `settings.IMAGE_FETCH_ALLOW_HOSTS`; compared case-insensitively). At most
    `max_bytes` are read, the pixel count is capped at `max_pixels` before decoding, and `timeout`
    bounds each network operation (the whole fetch gets 3x). Touches no database.
    """
    if not isinstance(value, str) or not value.strip():
        raise fail(field, "invalid_image", "an image URL or data URI is required.")
    value = value.strip()
    if value[:5].lower() == "data:":
        data = decode_data_uri(value, field=field, max_bytes=max_bytes)
    else:
        hosts = _settings_allow_hosts() if allow_hosts is None else allow_hosts
        data = fetch(
            value,
            field=field,
            allowed_hosts=allow_list(hosts),
            resolver=resolver,
            max_bytes=max_bytes,
            timeout=timeout,
        )
    return inspect(data, field=field, max_pixels=max_pixels)


def image_pair_check(
    head: AcceptedImage, tail: AcceptedImage, *, field: str = "tail_image", tolerance: float = 0.02
) -> None:
    """Refuse a first/last-frame (KF2V) pair whose aspect ratios differ by more than `tolerance`.

    The difference is relative to the head image's ratio, so 0.02 lets 1920x1080 pair with 1280x718
    but never 16:9 with 9:16. Raises `ImageError(field=field)`; returns None when the pair is fine.
    """
    head_ratio = head.width / head.height
    tail_ratio = tail.width / tail.height
    if abs(head_ratio - tail_ratio) > tolerance * head_ratio:
        raise fail(
            field,
            "invalid_image",
            f"the last frame ({tail.width}x{tail.height}) must have the same aspect ratio as the first "
            f"frame ({head.width}x{head.height}).",
        )
