"""A real HTTP receiver on 127.0.0.1 (threaded http.server) and a record of what the services enqueue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next planned reply (default 200); records every request it got."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str], bytes, float]] = field(default_factory=list)

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              delay: float = 0.0) -> None:
        self.replies.append((status, headers or {}, body, delay))

    def wait_for(self, count: int, timeout: float = 120.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"the receiver got {len(self.requests)} requests, not {count}"
            time.sleep(0.05)
        return self.requests


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers, reply, delay = receiver.replies.pop(0) if receiver.replies else (200, {}, b"ok", 0)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:
                pass  # the sender gave up (timeout test)

        do_GET = do_POST  # a followed redirect would show up here

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.IMAGE_FETCH_ALLOW_HOSTS = ["127.0.0.1"]  # the allow-list is what lets loopback through
    settings.WEBHOOK_TIMEOUT = 2
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Deliveries the services hand to Celery, recorded instead (the test makes the attempts itself)."""
    from webhooks import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.delivery_send_task, "delay_on_commit", lambda pk, *a, **k: sent.append(pk))
    return sent
