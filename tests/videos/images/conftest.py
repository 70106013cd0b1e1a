"""Fixtures for videos.images: local HTTP(S) servers, fake resolvers, a socket guard, image bytes.

Nothing here needs Django or a database, and nothing leaves 127.0.0.1: every test that could reach
out runs under `sockets`, which refuses (and records) connections to anything but our own servers.
"""

from __future__ import annotations

import io
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

Route = Callable[[BaseHTTPRequestHandler], None]


def make_image(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A real, small image in `fmt` (PNG, JPEG, WEBP, GIF)."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, fmt)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` x `height` but holds no pixel data: a decompression-bomb header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class ImageServer:
    """A threaded http.server on 127.0.0.1 whose paths are set per test (`serve`, `redirect`, `route`)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) as received
        self.release = threading.Event()  # set at teardown: frees handlers that stall on purpose
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass  # the client hung up on purpose (size cap, timeout)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str, handler: Route) -> str:
        self.routes[path] = handler
        return self.url(path)

    def serve(self, path: str, body: bytes, content_type: str = "image/png", status: int = 200) -> str:
        def handler(req: BaseHTTPRequestHandler) -> None:
            req.send_response(status)
            req.send_header("Content-Type", content_type)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)

        return self.route(path, handler)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        def handler(req: BaseHTTPRequestHandler) -> None:
            req.send_response(status)
            req.send_header("Location", location)
            req.send_header("Content-Length", "0")
            req.end_headers()

        return self.route(path, handler)

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ImageServer]:
    srv = ImageServer()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `images.test` (cert, key), made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=images.test",
         "-addext", "subjectAltName=DNS:images.test"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(tls_cert: tuple[Path, Path]) -> Iterator[tuple[ImageServer, list[str | None]]]:
    """An https ImageServer presenting the `images.test` certificate, and the SNI names it was sent."""
    cert, key = tls_cert
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    sni: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)  # type: ignore[assignment]
    srv = ImageServer(tls=context)
    yield srv, sni
    srv.close()


class SocketGuard:
    """Records every outgoing connection attempt; lets through only those to `allowed` (host, port)."""

    def __init__(self) -> None:
        self.attempts: list[tuple[object, ...]] = []
        self.allowed: set[tuple[str, int]] = set()


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> SocketGuard:
    """Patch socket connects so an SSRF test can assert that nothing was even attempted."""
    guard = SocketGuard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(sock: socket.socket, address: tuple[object, ...]) -> None:
        guard.attempts.append(tuple(address))
        if tuple(address[:2]) not in guard.allowed:
            raise ConnectionRefusedError("blocked by the test socket guard")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: tuple[object, ...]) -> int:
        guard.attempts.append(tuple(address))
        if tuple(address[:2]) not in guard.allowed:
            raise ConnectionRefusedError("blocked by the test socket guard")
        return real_connect_ex(sock, address)

    def create_connection(address: tuple[object, ...], *args: object, **kwargs: object) -> socket.socket:
        guard.attempts.append(tuple(address))
        raise ConnectionRefusedError("blocked by the test socket guard")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return guard


class FakeResolver:
    """A `getaddrinfo` stand-in answering every name with `addresses` (and recording the calls)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[str] = []

    def __call__(self, host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        self.calls.append(host)
        answers: list[tuple[object, ...]] = []
        for ip in self.addresses:
            if ":" in ip:
                answers.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)))
            else:
                answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)))
        return answers
