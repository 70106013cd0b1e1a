"""Fetching image URLs from real local servers: formats, redirects, size caps, timeouts, TLS."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from videos.images import AcceptedImage, ImageError, image_accept
from videos.images import fetch as fetch_module

from .conftest import FakeResolver, ImageServer, SocketGuard, make_image

LOCAL = ["127.0.0.1"]


@pytest.fixture
def guarded(server: ImageServer, sockets: SocketGuard) -> SocketGuard:
    """Connections may reach the test server and nothing else."""
    sockets.allowed.add(("127.0.0.1", server.port))
    return sockets


def _accept(url: str, **kwargs: Any) -> AcceptedImage:
    kwargs.setdefault("allow_hosts", LOCAL)
    kwargs.setdefault("timeout", 2.0)
    return image_accept(url, field="head_image", **kwargs)


def _error(url: str, **kwargs: Any) -> ImageError:
    with pytest.raises(ImageError) as info:
        _accept(url, **kwargs)
    assert info.value.field == "head_image"
    return info.value


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")],
)
def test_it_accepts_images(
    server: ImageServer, guarded: SocketGuard, fmt: str, content_type: str, extension: str
) -> None:
    body = make_image(fmt, (320, 180))
    # The server's Content-Type is wrong on purpose: only the bytes decide.
    url = server.serve(f"/img.{extension}", body, content_type="application/octet-stream")
    image = _accept(url)
    assert (image.content_type, image.extension) == (content_type, extension)
    assert (image.width, image.height) == (320, 180)
    assert image.data == body  # the bytes as received, not re-encoded
    path, headers = server.requests[-1]
    assert path == f"/img.{extension}"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["accept-encoding"] == "identity"
    assert guarded.attempts == [("127.0.0.1", server.port)]


def test_it_sends_the_hostname_but_connects_to_the_resolved_address(
    server: ImageServer, guarded: SocketGuard
) -> None:
    server.serve("/a.png", make_image())
    resolver = FakeResolver("127.0.0.1")
    image = _accept(server.url("/a.png?v=1", host="Images.Internal."), allow_hosts=["images.internal"],
                    resolver=resolver)
    assert image.width == 64
    assert resolver.calls == ["images.internal"]
    assert server.requests[-1] == ("/a.png?v=1", server.requests[-1][1])
    assert server.requests[-1][1]["host"] == f"images.internal:{server.port}"


def test_it_falls_back_to_the_next_vetted_address(server: ImageServer, guarded: SocketGuard) -> None:
    guarded.allowed.add(("127.0.0.2", server.port))  # loopback too, but nothing listens there
    server.serve("/a.png", make_image())
    url = server.url("/a.png", host="img.internal")
    image = _accept(url, allow_hosts=["img.internal"], resolver=FakeResolver("127.0.0.2", "127.0.0.1"))
    assert image.width == 64
    assert guarded.attempts == [("127.0.0.2", server.port), ("127.0.0.1", server.port)]


def test_allow_list_matches_any_spelling_of_an_ip(server: ImageServer, guarded: SocketGuard) -> None:
    server.serve("/a.png", make_image())
    assert _accept(server.url("/a.png", host="2130706433"), allow_hosts=["127.0.0.1"]).width == 64
    assert _accept(server.url("/a.png"), allow_hosts=["0x7f000001"]).width == 64


def test_a_local_url_is_refused_when_not_allow_listed(server: ImageServer, guarded: SocketGuard) -> None:
    url = server.serve("/a.png", make_image())
    assert _error(url, allow_hosts=[]).code == "forbidden_address"
    assert _error(url, allow_hosts=["localhost"]).code == "forbidden_address"
    assert server.requests == [] and guarded.attempts == []


def test_it_follows_redirects_and_rechecks_each_hop(server: ImageServer, guarded: SocketGuard) -> None:
    server.serve("/final.webp", make_image("WEBP", (32, 32)))
    server.redirect("/3", "/final.webp", status=308)
    server.redirect("/2", server.url("/3"), status=307)
    server.redirect("/1", "/2", status=301)
    image = _accept(server.url("/1"))
    assert image.content_type == "image/webp"
    assert [path for path, _ in server.requests] == ["/1", "/2", "/3", "/final.webp"]


def test_it_follows_five_redirects_but_not_six(server: ImageServer, guarded: SocketGuard) -> None:
    server.serve("/img", make_image())
    for hop in range(1, 7):
        server.redirect(f"/r{hop}", f"/r{hop + 1}" if hop < 6 else "/img")
    assert _accept(server.url("/r2")).width == 64  # five redirects
    server.requests.clear()
    error = _error(server.url("/r1"))  # six redirects
    assert error.code == "image_fetch_failed" and "redirect" in error.message
    assert "/img" not in [path for path, _ in server.requests]


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/cat.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/a.png",
        "http://internal.corp/cat.png",  # resolves to a private address
        "http://localhost:{port}/a.png",
        "file:///etc/passwd",
        "data:image/png;base64,AAAA",
    ],
)
def test_a_redirect_to_a_private_address_connects_nowhere(
    server: ImageServer, guarded: SocketGuard, location: str
) -> None:
    server.serve("/a.png", make_image())
    url = server.redirect("/go", location.format(port=server.port))
    error = _error(url, resolver=FakeResolver("10.9.8.7"))
    assert error.code in {"forbidden_address", "invalid_image"}
    assert guarded.attempts == [("127.0.0.1", server.port)]  # only the first, allow-listed hop
    assert [path for path, _ in server.requests] == ["/go"]
    assert "10.9.8.7" not in error.message and "10.0.0.1" not in error.message


def test_a_redirect_without_location_fails(server: ImageServer, guarded: SocketGuard) -> None:
    def handler(req: BaseHTTPRequestHandler) -> None:
        req.send_response(302)
        req.send_header("Content-Length", "0")
        req.end_headers()

    assert _error(server.route("/x", handler)).code == "image_fetch_failed"


@pytest.mark.parametrize("status", [404, 403, 500, 304])
def test_non_2xx_fails_with_the_status(server: ImageServer, guarded: SocketGuard, status: int) -> None:
    url = server.serve("/a.png", b"nope", content_type="text/plain", status=status)
    error = _error(url)
    assert error.code == "image_fetch_failed" and str(status) in error.message


def test_a_missing_path_is_a_404(server: ImageServer, guarded: SocketGuard) -> None:
    error = _error(server.url("/nothing-here.png"))
    assert error.code == "image_fetch_failed" and "404" in error.message


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><body>login</body></html>",
        b"just text",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>',
        make_image("GIF"),
        b"",
    ],
)
def test_non_images_served_as_png_are_unsupported(
    server: ImageServer, guarded: SocketGuard, body: bytes
) -> None:
    url = server.serve("/a.png", body, content_type="image/png")
    assert _error(url).code == "unsupported_image_format"


def test_it_refuses_a_large_content_length_before_reading_the_body(
    server: ImageServer, guarded: SocketGuard
) -> None:
    def handler(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "image/png")
        req.send_header("Content-Length", str(50 * 1024 * 1024))
        req.end_headers()
        req.wfile.flush()
        server.release.wait(10)  # the body never comes: only the header can have caused the refusal

    started = time.monotonic()
    error = _error(server.route("/big.png", handler), max_bytes=100_000)
    assert error.code == "image_too_large"
    assert time.monotonic() - started < 1.5


def test_it_stops_reading_a_chunked_body_once_over_the_cap(server: ImageServer, guarded: SocketGuard) -> None:
    sent = []

    def handler(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "image/png")
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        chunk = make_image()[:8] + b"\0" * (16 * 1024 - 8)
        for _ in range(64 * 1024):  # up to 1 GB: the client must hang up long before that
            req.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent.append(len(chunk))

    error = _error(server.route("/endless.png", handler), max_bytes=200_000)
    assert error.code == "image_too_large"
    time.sleep(0.1)  # let the handler notice the hang-up
    assert sum(sent) < 50 * 1024 * 1024  # socket buffers absorb some; reading all would be 1 GB


class _CountingResponse:
    """Stands in for a urllib3 response that would stream forever, counting what was asked of it."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.delivered = 0

    def read1(self, amt: int, decode_content: bool = False) -> bytes:
        self.delivered += amt
        return b"\0" * amt


def test_the_body_reader_takes_at_most_one_byte_more_than_the_cap() -> None:
    response: Any = _CountingResponse()
    deadline = fetch_module._Deadline(5)
    with pytest.raises(ImageError) as info:
        fetch_module._read_body(response, field="head_image", max_bytes=150_000, deadline=deadline)
    assert info.value.code == "image_too_large" and "150000 bytes" in info.value.message
    assert response.delivered == 150_001


def test_a_body_over_the_cap_without_length_is_refused(server: ImageServer, guarded: SocketGuard) -> None:
    body = make_image("PNG", (400, 400)) + b"\0" * 300_000

    def handler(req: BaseHTTPRequestHandler) -> None:  # no Content-Length: read until close
        req.send_response(200)
        req.send_header("Connection", "close")
        req.end_headers()
        req.wfile.write(body)
        req.close_connection = True

    assert _error(server.route("/a.png", handler), max_bytes=len(body) - 1).code == "image_too_large"
    assert _accept(server.url("/a.png"), max_bytes=len(body)).width == 400


def test_a_silent_server_times_out_quickly(server: ImageServer, guarded: SocketGuard) -> None:
    server.route("/slow.png", lambda req: server.release.wait(10))
    started = time.monotonic()
    error = _error(server.url("/slow.png"), timeout=0.5)
    assert error.code == "image_fetch_failed" and "timed out" in error.message
    assert time.monotonic() - started < 1.5


def test_a_dribbling_server_hits_the_overall_deadline(server: ImageServer, guarded: SocketGuard) -> None:
    body = make_image("PNG", (200, 200))

    def handler(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        for byte in body:  # one byte every 0.1 s: never trips the per-read timeout
            req.wfile.write(bytes([byte]))
            req.wfile.flush()
            if server.release.wait(0.1):
                return

    started = time.monotonic()
    error = _error(server.route("/drip.png", handler), timeout=0.5)
    assert error.code == "image_fetch_failed" and "timed out" in error.message
    assert time.monotonic() - started < 3.0  # 3 x timeout, plus slack


def test_a_truncated_body_is_refused(server: ImageServer, guarded: SocketGuard) -> None:
    body = make_image()

    def handler(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", str(len(body) + 100))
        req.send_header("Connection", "close")
        req.end_headers()
        req.wfile.write(body)
        req.close_connection = True

    assert _error(server.route("/short.png", handler)).code == "image_fetch_failed"


def test_a_refused_connection_fails_cleanly(sockets: SocketGuard) -> None:
    sockets.allowed.add(("127.0.0.1", 9))
    error = _error("http://127.0.0.1:9/a.png")  # discard port: nothing listens there
    assert error.code == "image_fetch_failed" and "127.0.0.1" not in error.message


@pytest.fixture
def https(
    tls_server: tuple[ImageServer, list[str | None]], sockets: SocketGuard
) -> tuple[ImageServer, list[str | None], SocketGuard]:
    """The TLS server (not yet trusted), reachable through the socket guard, serving /a.png."""
    server, sni = tls_server
    sockets.allowed.add(("127.0.0.1", server.port))
    server.serve("/a.png", make_image("PNG", (48, 64)))
    return server, sni, sockets


@pytest.fixture
def trust_test_ca(tls_cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_module, "ca_bundle", lambda: str(tls_cert[0]))


@pytest.mark.usefixtures("trust_test_ca")
def test_https_is_pinned_to_the_address_and_verified_for_the_hostname(
    https: tuple[ImageServer, list[str | None], SocketGuard],
) -> None:
    server, sni, sockets = https
    url = server.url("/a.png", host="images.test")
    image = _accept(url, allow_hosts=["images.test"], resolver=FakeResolver("127.0.0.1"))
    assert (image.content_type, image.width, image.height) == ("image/png", 48, 64)
    assert sni == ["images.test"]
    assert server.requests[-1][1]["host"] == f"images.test:{server.port}"
    assert sockets.attempts == [("127.0.0.1", server.port)]


@pytest.mark.parametrize(
    ("host", "trusted"),
    [("other.test", True), ("images.test", False)],  # certificate for another name; unknown issuer
)
def test_https_refuses_certificates_it_cannot_verify(
    https: tuple[ImageServer, list[str | None], SocketGuard],
    request: pytest.FixtureRequest,
    host: str,
    trusted: bool,
) -> None:
    if trusted:
        request.getfixturevalue("trust_test_ca")
    server = https[0]
    error = _error(server.url("/a.png", host=host), allow_hosts=[host], resolver=FakeResolver("127.0.0.1"))
    assert error.code == "image_fetch_failed" and "certificate" in error.message
    assert server.requests == []
