"""Download an image URL without letting the URL reach anything but the public internet.

Each hop (the URL and every redirect) is parsed, its host vetted (`addresses.vet_host`), and the
connection made to the vetted IP itself: the Host header and TLS SNI/certificate check still use the
hostname, but no second DNS lookup happens, so DNS rebinding has no window. urllib3 is used at the
connection level (not requests) because requests would resolve the name again and honour proxy
environment variables.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv6Address
from urllib.parse import quote, urljoin, urlsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse

from .addresses import IPAddress, Resolver, normalize_host, vet_host
from .content import too_large
from .errors import ImageError, fail

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
DEADLINE_FACTOR = 3  # the whole fetch, redirects included, gets 3x the per-operation timeout
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Whitespace, control characters and backslashes are where URL parsers disagree with each other
# (and Python's urlsplit silently drops tabs and newlines), so such URLs are refused, not guessed at.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_PRINTABLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))


def ca_bundle() -> str | None:
    """The CA file used to verify https image hosts: certifi's, as requests uses (else the system's)."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi ships with requests
        return None
    return certifi.where()


@dataclass(frozen=True)
class HttpTarget:
    """One validated http(s) URL: where to connect and what to send."""

    url: str
    scheme: str
    host: str | IPAddress  # lower-case ASCII hostname, or an IP address however it was spelled
    port: int
    request_target: str  # path and query, ASCII only; the fragment never leaves the client

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.host, IPv6Address) else str(self.host)
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse_http_url(url: str, *, field: str) -> HttpTarget:
    """Validate an http(s) URL (scheme, host, port, no credentials) into an `HttpTarget`."""
    invalid = "must be an http(s) URL or a data:image/...;base64 URI."
    if _UNSAFE.search(url):
        raise fail(field, "invalid_image", "the URL contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise fail(field, "invalid_image", "the URL is malformed.") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise fail(field, "invalid_image", invalid)
    if "@" in parts.netloc:
        # Credentials would be sent to whoever the URL (or a redirect) names; refuse, and never echo them.
        raise fail(field, "invalid_image", "URLs with embedded credentials are not accepted.")
    if not parts.hostname:
        raise fail(field, "invalid_image", "the URL has no host.")
    if port == 0:
        raise fail(field, "invalid_image", "the URL has an invalid port.")
    host = normalize_host(parts.hostname, bracketed=parts.netloc.startswith("["), field=field)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return HttpTarget(
        url=url,
        scheme=scheme,
        host=host,
        port=port or _DEFAULT_PORTS[scheme],
        request_target=quote(target, safe=_PRINTABLE_ASCII),  # percent-encode non-ASCII only
    )


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at


def fetch(
    url: str, *, field: str, allowed_hosts: frozenset[str], resolver: Resolver, max_bytes: int, timeout: float
) -> bytes:
    """The body of `url` after at most `MAX_REDIRECTS` redirects, each hop vetted like the first.

    `timeout` bounds each connect and each read; the whole fetch gets `DEADLINE_FACTOR` times that, so
    a server dribbling a byte at a time cannot hold a worker. At most `max_bytes` (+1) body bytes are
    read. Raises `ImageError` for everything, never a network exception.
    """
    deadline = _Deadline(DEADLINE_FACTOR * timeout)
    for _hop in range(MAX_REDIRECTS + 1):
        target = parse_http_url(url, field=field)
        allowed = str(target.host) in allowed_hosts
        addresses = vet_host(target.host, target.port, field=field, allowed=allowed, resolver=resolver)
        with _exchange(target, addresses, field=field, timeout=timeout, deadline=deadline) as response:
            if response.status in _REDIRECTS:
                if not (location := response.headers.get("Location")):
                    raise fail(field, "image_fetch_failed", "the image URL redirected without a location.")
                url = urljoin(target.url, location.strip())
                continue
            if not 200 <= response.status < 300:
                raise fail(field, "image_fetch_failed", f"the image URL answered HTTP {response.status}.")
            return _read_body(response, field=field, max_bytes=max_bytes, deadline=deadline)
    raise fail(field, "image_fetch_failed", f"the image URL redirected more than {MAX_REDIRECTS} times.")


@contextmanager
def _exchange(
    target: HttpTarget, addresses: list[IPAddress], *, field: str, timeout: float, deadline: _Deadline
) -> Iterator[BaseHTTPResponse]:
    """Send the GET to the first vetted address that accepts a connection; yield the streamed response.

    Network errors raised while the caller reads the body inside the `with` are mapped here too.
    """
    conn = None
    try:
        conn = _connect(target, addresses, timeout=timeout, deadline=deadline)
        with _watchdog(conn, deadline):
            conn.request(
                "GET",
                target.request_target,
                headers={
                    "Host": target.host_header,
                    "User-Agent": "mcphub-video-image-fetch/1",
                    "Accept": "image/jpeg, image/png, image/webp",
                    # No compression: a gzip bomb would defeat the byte cap, and images are compressed anyway.
                    "Accept-Encoding": "identity",
                    "Connection": "close",
                },
                preload_content=False,
                decode_content=False,
            )
            yield conn.getresponse()
    except ImageError:
        raise
    except (OSError, HTTPError, http.client.HTTPException) as exc:
        raise _network_error(exc, field=field, deadline=deadline) from None
    finally:
        if conn is not None:
            conn.close()


def _connect(
    target: HttpTarget, addresses: list[IPAddress], *, timeout: float, deadline: _Deadline
) -> HTTPConnection:
    """Open a connection to one of `addresses` (in resolver order), never to the name itself."""
    error: Exception = TimeoutError("the fetch deadline passed before connecting")
    for address in addresses:
        if deadline.expired():
            break
        timeout = min(timeout, deadline.remaining())
        if target.scheme == "https":
            conn: HTTPConnection = HTTPSConnection(
                str(address),
                target.port,
                timeout=timeout,
                # SNI and certificate verification are for the name the client gave, not the IP.
                server_hostname=str(target.host),
                cert_reqs="CERT_REQUIRED",
                ca_certs=ca_bundle(),
            )
        else:
            conn = HTTPConnection(str(address), target.port, timeout=timeout)
        try:
            conn.connect()
        except ConnectTimeoutError as exc:  # includes NewConnectionError (refused, unreachable)
            conn.close()
            error = exc
            continue
        return conn
    raise error


@contextmanager
def _watchdog(conn: HTTPConnection, deadline: _Deadline) -> Iterator[None]:
    """Shut the socket down when the overall deadline passes, unblocking any pending read."""

    def abort() -> None:
        if (sock := conn.sock) is not None:
            try:
                # socket.socket.shutdown, not SSLSocket.shutdown: that one also tears down TLS state
                # that the reading thread is still using.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(deadline.remaining(), abort)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _read_body(response: BaseHTTPResponse, *, field: str, max_bytes: int, deadline: _Deadline) -> bytes:
    """Read at most `max_bytes` + 1 bytes: one byte over is enough to know the body is too large."""
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(field, max_bytes)  # refuse before reading a byte of the body
    body = bytearray()
    while chunk := response.read1(min(CHUNK, max_bytes + 1 - len(body)), decode_content=False):
        body += chunk
        if len(body) > max_bytes:
            raise too_large(field, max_bytes)
    if deadline.expired():  # the watchdog ends a read with EOF; a cut-off body must not pass as whole
        raise fail(field, "image_fetch_failed", "fetching the image timed out.")
    return bytes(body)


def _network_error(exc: BaseException, *, field: str, deadline: _Deadline) -> ImageError:
    """A client-safe message for a network failure: never the exception text, which names IPs."""
    if isinstance(exc, NewConnectionError) and not deadline.expired():
        text = "could not connect to the image host."
    elif isinstance(exc, (TimeoutError, Urllib3Timeout)) or deadline.expired():
        text = "fetching the image timed out."
    elif isinstance(exc, ssl.SSLCertVerificationError):
        text = "the image host's TLS certificate could not be verified."
    elif isinstance(exc, (ssl.SSLError, Urllib3SSLError)):
        text = "a secure connection to the image host could not be established."
    else:
        text = "the image could not be downloaded."
    return fail(field, "image_fetch_failed", text)
