"""POST to a user-chosen URL through the image fetcher's SSRF-safe machinery (DESIGN §5: one client).

The URL is parsed and its host vetted by `videos.images` (every IP spelling, no private, loopback or
metadata address unless the host is allow-listed), and the connection goes to the vetted IP itself, so
DNS cannot change between check and use. Redirects are never followed: a 3xx is the endpoint's answer.
"""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass

from django.conf import settings
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from videos.images.addresses import Resolver, allow_list, vet_host
from videos.images.errors import ImageError
from videos.images.fetch import _connect, _Deadline, _watchdog, parse_http_url

EXCERPT_BYTES = 2048
USER_AGENT = "mcphub-video-webhooks/1"

# Tests replace this to decide what a host name resolves to (and to prove a refused host is never dialled).
resolve: Resolver = socket.getaddrinfo


class UrlRefused(Exception):
    """The URL may not be used (syntax, scheme, or a private/local address). Not worth retrying."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SendFailed(Exception):
    """No HTTP answer (timeout, refused connection, TLS, DNS). Worth retrying."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    excerpt: str
    latency_ms: int


def allowed_hosts() -> frozenset[str]:
    """`OUTBOUND_ALLOW_HOSTS` plus the older `IMAGE_FETCH_ALLOW_HOSTS`: one allow-list for user-chosen URLs."""
    return allow_list([*getattr(settings, "OUTBOUND_ALLOW_HOSTS", []), *settings.IMAGE_FETCH_ALLOW_HOSTS])


def _refusal(exc: ImageError) -> UrlRefused:
    if exc.code == "forbidden_address":
        return UrlRefused("the URL points to a private, local or reserved network address; "
                          "only public addresses are allowed.")
    return UrlRefused(exc.message.split(": ", 1)[-1])  # the fetcher's text, without its field prefix


def url_check(url: str) -> str:
    """Validate a webhook URL without DNS: http(s), no credentials, a sane host, and not a private IP literal.

    Host names are resolved (and vetted again) on every delivery. Raises UrlRefused.
    """
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise UrlRefused("must be an http:// or https:// URL.")
    if len(url) > 2048:
        raise UrlRefused("must be at most 2048 characters.")
    try:
        target = parse_http_url(url, field="url")
    except ImageError as exc:
        raise _refusal(exc) from None
    host = target.host
    if str(host) in allowed_hosts():
        return url
    if isinstance(host, str):
        if host == "localhost" or host.endswith(".localhost"):
            raise _refusal(ImageError("-", field="url", code="forbidden_address"))
        return url
    try:
        vet_host(host, target.port, field="url", allowed=False, resolver=resolve)
    except ImageError as exc:
        raise _refusal(exc) from None
    return url


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` once. Returns the answer whatever its status; raises UrlRefused or SendFailed.

    `timeout` bounds the connect and each read; the whole exchange gets twice that (a receiver dribbling
    bytes cannot hold the worker). Only the first `EXCERPT_BYTES` of the answer are read.
    """
    try:
        target = parse_http_url(url, field="url")
        allowed = str(target.host) in allowed_hosts()
        addresses = vet_host(target.host, target.port, field="url", allowed=allowed, resolver=resolve)
    except ImageError as exc:
        if exc.code == "image_fetch_failed":  # DNS failure: may well resolve next time
            raise SendFailed("the host name could not be resolved.") from None
        raise _refusal(exc) from None
    deadline = _Deadline(2 * timeout)
    started = time.monotonic()
    conn = None
    try:
        conn = _connect(target, addresses, timeout=timeout, deadline=deadline)
        with _watchdog(conn, deadline):
            conn.request("POST", target.request_target, body=body, headers={
                "Host": target.host_header, "User-Agent": USER_AGENT, "Content-Type": "application/json",
                "Content-Length": str(len(body)), "Accept-Encoding": "identity", "Connection": "close", **headers,
            }, preload_content=False, decode_content=False)
            response = conn.getresponse()
            excerpt = response.read1(EXCERPT_BYTES, decode_content=False) if response.status != 204 else b""
            answer_headers = {k.lower(): v for k, v in response.headers.items()}
    except (OSError, HTTPError, http.client.HTTPException) as exc:
        raise SendFailed(_network_text(exc, deadline)) from None
    finally:
        if conn is not None:
            conn.close()
    return Answer(status=response.status, headers=answer_headers,
                  excerpt=excerpt.decode("utf-8", "replace"), latency_ms=round((time.monotonic() - started) * 1000))


def _network_text(exc: BaseException, deadline: _Deadline) -> str:
    """What went wrong, without addresses or exception text (which may name internal IPs)."""
    if isinstance(exc, NewConnectionError) and not deadline.expired():
        return "could not connect to the endpoint."
    if isinstance(exc, (TimeoutError, Urllib3Timeout, socket.timeout)) or deadline.expired():
        return "timed out waiting for the endpoint."
    if "ssl" in type(exc).__module__.lower() or "SSL" in type(exc).__name__:
        return "a secure connection to the endpoint could not be established."
    return "the connection to the endpoint failed."


__all__ = ["Answer", "SendFailed", "UrlRefused", "allowed_hosts", "post", "url_check"]
