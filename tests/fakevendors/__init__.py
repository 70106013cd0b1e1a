"""Fake vendor servers: real HTTP on 127.0.0.1 (ephemeral port) speaking each vendor's documented protocol.

A FakeVendor records every request, CHECKS it (auth, version headers, field names and values) and turns a
failed check into a recorded `problem` plus a 400, so a test fails even when the adapter swallowed the 400.
Tests script it:

- `fake.script = ["queued", "running:40", "running:80", "succeeded"]`: the stages the next created task
  goes through, one per poll (the last one sticks); stages: queued, running[:pct], succeeded, failed, moderated.
- `fake.failure_reason`: the vendor's text for failed / moderated.
- `fake.reply(status, body, headers=…, delay=…)`: the next request gets this instead (429, 500, a body that
  echoes the key, a malformed body, a slow answer for timeouts). Replies queue up, one per request.
- `fake.expire_results = True`: result downloads answer 404 (Runway-style presigned URLs expired).
- `fake.in_flight` / `fake.max_in_flight`: tasks created and not yet answered with a final stage (now / at most
  at once), for concurrency caps.
- `fake.latency`: seconds every answer waits (a vendor's think time); `fake.busy` / `fake.max_busy`: requests
  being answered now / at most at once; `fake.connections`: TCP connections accepted (keep-alive reuses them).
- Status polls (the routes marked `poll=`, with the request's job id): `fake.polls` made, `fake.polling` /
  `fake.max_polling` open now / at most at once, `fake.poll_arrivals[job]` when each arrived (time.monotonic()),
  `fake.poll_overlaps`: jobs asked about by two polls at once; `fake.poll_latency`: seconds each status answer
  waits (counted as open meanwhile) on top of `latency`.

Each vendor module subclasses FakeVendor with its routes (`route(method, regex)`), its own rendering of the
stages, and the checks of PROTOCOLS.md. `running(FakeCls, settings, ...)` is the fixture body.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42" + b"fake-mp4-payload" * 64


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    def form(self) -> dict[str, Any]:
        """A multipart/form-data body: {name: text value, or (filename, content type, bytes) for a file}."""
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers.get("content-type", "").encode() + b"\r\n\r\n" + self.body)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            fields[name] = (filename, part.get_content_type(), payload) if filename else payload.decode()
        return fields


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes/str -> as is, a callable(Request) -> one of those
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Problem(Exception):
    """A request the real vendor would reject: recorded, answered with 400."""


FINAL_STAGES = frozenset({"succeeded", "failed", "moderated", "cancelled"})


@dataclass
class Task:
    id: str
    kind: str
    script: list[str]
    request: Any
    polls: int = 0
    on_final: Callable[[Task], None] | None = None  # called once, at the first final answer
    final: bool = False

    @property
    def stage(self) -> str:
        return self.script[min(self.polls, len(self.script) - 1)]

    def advance(self) -> tuple[str, int | None]:
        """The stage for this poll (and its progress %), then move on."""
        stage = self.stage
        self.polls += 1
        name, _, pct = stage.partition(":")
        if name in FINAL_STAGES and not self.final:
            self.final = True
            if self.on_final is not None:
                self.on_final(self)
        return name, int(pct) if pct else None


Handler = Callable[..., Reply]


def route(method: str, pattern: str, *, poll: str = "") -> Callable[[Handler], Handler]:
    """Route `method` + `pattern` to the handler. `poll`: this is the status poll, and the path group (or query
    parameter) of that name holds the job id: FakeVendor counts these polls."""

    def mark(fn: Handler) -> Handler:
        fn.route = (method, re.compile(pattern + r"\Z"), poll)  # type: ignore[attr-defined]
        return fn

    return mark


class FakeVendor:
    name = ""
    prefix = ""  # the documented base path, e.g. "/dream-machine/v1"
    api_key = "test-key-0123456789abcdef"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self.replies: deque[Reply] = deque()
        self.tasks: dict[str, Task] = {}
        self.script = ["queued", "running:50", "succeeded"]
        self.failure_reason = "the vendor could not render this"
        self.expire_results = False
        self.video = VIDEO_BYTES  # what result downloads serve (end-to-end tests put a real MP4 here)
        self.cancelled: list[str] = []  # task ids cancelled through the vendor's cancel call
        self.in_flight = 0  # tasks created and not yet answered with a final stage
        self.max_in_flight = 0
        self.latency = 0.0
        self.busy = 0  # requests being answered right now
        self.max_busy = 0
        self.connections = 0
        self.polls = 0  # status polls answered or being answered
        self.polling = 0  # status polls being answered now / at most at once
        self.max_polling = 0
        self.poll_latency = 0.0
        self.poll_arrivals: dict[str, list[float]] = defaultdict(list)
        self.poll_overlaps: list[str] = []
        self._poll_open: dict[str, int] = defaultdict(int)
        self._ids = 0
        self._lock = threading.Lock()
        self._routes = [getattr(self, n).route + (getattr(self, n),) for n in dir(type(self))
                        if hasattr(getattr(type(self), n), "route")]
        self.server = _CountingServer(("127.0.0.1", 0), _make_handler(self))
        self.server.vendor = self
        self.server.daemon_threads = True
        self.server.block_on_close = False  # slow handlers must not hold up teardown
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.base_url = self.url + self.prefix

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeVendor:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- scripting -----------------------------------------------------------------------------------
    def reply(self, status: int = 200, body: Any = None, *, headers: dict[str, str] | None = None,
              delay: float = 0.0) -> None:
        self.replies.append(Reply(status, body, headers or {}, delay))

    def new_task(self, kind: str, request: Any) -> Task:
        with self._lock:
            self._ids += 1
            task = Task(id=f"{self.name}-task-{self._ids}", kind=kind, script=list(self.script), request=request,
                        on_final=self._task_final)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.tasks[task.id] = task
        return task

    def _task_final(self, task: Task) -> None:
        with self._lock:
            self.in_flight -= 1

    def result_url(self, task: Task) -> str:
        return f"{self.url}/cdn/{task.id}.mp4?sig=presigned"

    def posted(self, path_suffix: str = "") -> list[Request]:
        """The POSTs the vendor received (whose path ends with `path_suffix`)."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(path_suffix)]

    # --- checks --------------------------------------------------------------------------------------
    def expect(self, condition: Any, message: str) -> None:
        if not condition:
            raise Problem(message)

    def expect_header(self, request: Request, name: str, value: str) -> None:
        got = request.headers.get(name.lower())
        self.expect(got == value, f"header {name}: expected {value!r}, got {got!r}")

    def expect_fields(self, body: Any, *, required: set[str], allowed: set[str]) -> None:
        self.expect(isinstance(body, dict), "body is not a JSON object")
        self.expect(required <= body.keys(), f"missing fields {sorted(required - body.keys())}")
        self.expect(body.keys() <= required | allowed, f"unknown fields {sorted(body.keys() - required - allowed)}")

    def check_auth(self, request: Request) -> None:
        self.expect_header(request, "Authorization", f"Bearer {self.api_key}")

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": "invalid key"})

    def invalid(self, message: str) -> Reply:
        """How this vendor refuses a bad request (its own error shape). Vendors override it."""
        return Reply(400, {"error": f"fake {self.name}: {message}"})

    def cancel_task(self, task_id: str) -> Task | None:
        """Mark a task cancelled (the vendor's cancel call): its next poll answers the vendor's cancelled state.
        None when there is no such task or it already ended."""
        task = self.tasks.get(task_id)
        if task is None or task.final:
            return None
        task.script = [*task.script[:task.polls], "cancelled"]
        task.final = True
        self._task_final(task)
        self.cancelled.append(task_id)
        return task

    # --- results -------------------------------------------------------------------------------------
    @route("GET", r"/cdn/(?P<name>[^/]+)\.mp4")
    def cdn(self, request: Request, name: str) -> Reply:
        # Presigned CDN URLs: our vendor key must never travel here.
        self.expect("authorization" not in request.headers and "x-goog-api-key" not in request.headers,
                    "vendor key sent to a presigned CDN URL")
        if self.expire_results:
            return Reply(403, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
        return Reply(200, self.video, {"Content-Type": "video/mp4"})

    # --- dispatch ------------------------------------------------------------------------------------
    def poll_of(self, request: Request) -> str | None:
        """The job id when `request` is a status poll (a route marked `poll=`), else None."""
        for method, pattern, poll, _ in self._routes:
            if poll and method == request.method and (m := pattern.match(request.path)):
                return m.groupdict().get(poll) or request.query.get(poll, "")
        return None

    def answer(self, request: Request) -> Reply:
        """The reply to `request` once its time has come (its delay, or the vendor's latency), status polls counted
        from arrival to that time (whatever handles them: a scripted reply, a subclass holding the request)."""
        job = self.poll_of(request)
        if job is not None:
            with self._lock:
                self.polls += 1
                self.polling += 1
                self.max_polling = max(self.max_polling, self.polling)
                self.poll_arrivals[job].append(time.monotonic())
                self._poll_open[job] += 1
                if self._poll_open[job] > 1:
                    self.poll_overlaps.append(job)
        try:
            reply = self.handle(request)
            if reply.delay or self.latency:
                time.sleep(reply.delay or self.latency)
            if job is not None and self.poll_latency:
                time.sleep(self.poll_latency)
            return reply
        finally:
            if job is not None:
                with self._lock:
                    self._poll_open[job] -= 1
                    self.polling -= 1

    def handle(self, request: Request) -> Reply:
        self.requests.append(request)
        if self.replies:
            reply = self.replies.popleft()
            if callable(reply.body):  # e.g. an error body that echoes the request's credentials
                reply = Reply(reply.status, reply.body(request), reply.headers, reply.delay)
            return reply
        for method, pattern, _, handler in self._routes:
            if method == request.method and (m := pattern.match(request.path)):
                if not request.path.startswith("/cdn/"):
                    try:
                        self.check_auth(request)
                    except Problem as e:  # refused as the vendor refuses credentials (its 401 shape)
                        self.problems.append(f"{request.method} {request.path}: {e}")
                        return self.unauthorized()
                try:
                    return handler(request, **m.groupdict())
                except Problem as e:
                    self.problems.append(f"{request.method} {request.path}: {e}")
                    return self.invalid(str(e))
        self.problems.append(f"unexpected {request.method} {request.path}")
        return Reply(404, {"error": "not found"})


class _CountingServer(ThreadingHTTPServer):
    vendor: FakeVendor

    def get_request(self) -> Any:
        conn = super().get_request()
        with self.vendor._lock:
            self.vendor.connections += 1
        return conn


def _make_handler(vendor: FakeVendor) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            with vendor._lock:
                vendor.busy += 1
                vendor.max_busy = max(vendor.max_busy, vendor.busy)
            try:
                self._answer()
            finally:
                with vendor._lock:
                    vendor.busy -= 1

        def _answer(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, split.path, dict(parse_qsl(split.query)),
                              {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            reply = vendor.answer(request)
            body = reply.body
            if isinstance(body, (dict, list)):
                body, ctype = json.dumps(body).encode(), "application/json"
            else:
                body, ctype = (body.encode() if isinstance(body, str) else body or b""), "text/plain"
            try:
                self.send_response(reply.status)
                headers = {"Content-Type": ctype, **reply.headers, "Content-Length": str(len(body))}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return _Handler


def vendor_mp4(directory: Path, *, width: int = 160, height: int = 90, duration: float = 0.5) -> bytes:
    """A real (small) MP4 for a fake vendor to serve as its result: the pipeline probes what it downloads."""
    from videos.providers.render import RenderSpec, render

    out = directory / "vendor.mp4"
    render(RenderSpec(prompt="vendor result", width=width, height=height, duration=duration), video_path=str(out),
           thumbnail_path=str(directory / "t.jpg"), last_frame_path=str(directory / "l.png"))
    return out.read_bytes()


def running(cls: type[FakeVendor], settings: Any, **config: str) -> Iterator[FakeVendor]:
    """Start `cls`, point PROVIDER_SETTINGS[cls.name] at it (pytest-django `settings`), stop it after.

    Fails the test if the fake saw a request the real vendor would have rejected.
    """
    vendor = cls().start()
    providers = {name: dict(conf) for name, conf in settings.PROVIDER_SETTINGS.items()}
    providers[cls.name] = {**providers.get(cls.name, {}), "api_key": vendor.api_key,
                           "base_url": vendor.base_url, **config}
    settings.PROVIDER_SETTINGS = providers
    try:
        yield vendor
    finally:
        vendor.stop()
    assert not vendor.problems, vendor.problems
