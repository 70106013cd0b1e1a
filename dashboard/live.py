"""Long-polls and live streams under the ASGI server, without a thread per waiting client.

`LiveApp` wraps the site (the Django WSGI app run on a thread pool, dashboard/asgi.py). It takes these kinds of
request itself (below), and hands everything else straight through:

- `GET /api/v3/videos/sessions/{id}?wait=N` and `GET /api/v3/videos/{id}?wait=N`: wait (asynchronously) until
  what the client waits for changes (videos.live.state) or N seconds pass, then let the normal view answer.
  With `If-None-Match`, the view runs first: an answer other than 304 goes out at once, a 304 means "wait
  for a change, then ask the view again"; at the timeout its 304 goes out. The view alone decides the body,
  the ETag and every error: a request that is not ours to wait on (no key, another account's id, a bad
  `wait`, a final resource) reaches it without waiting.
- `GET /api/v3/videos/sessions/{id}/events` and `GET /api/v3/videos/{id}/events`: server-sent events, the session
  and its videos (or the one video) as the API shows them, each change as it happens, ending when all is final.
- `GET /live/events?v=vid_…&s=ses_…`: the dashboard's one stream per page (session-cookie auth): which
  watched video or session changed, so the page re-fetches only that card.

Each request taken here counts once in the HTTP metrics, with its whole duration (the wait, or the stream's life)
and the status it answered (499: the client left before an answer); the views it calls inside do not count it
again (metrics.LIVE_SCOPE_KEY).

Waiters are woken by `Hub`: one Redis subscription per process (LIVE_CHANNEL), fanned out to asyncio events
by session; without Redis, each waiter re-reads its state tag every LIVE_POLL_SECONDS. Database reads run on
a small pool of threads of their own.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qs

from django.conf import settings

from dashboard import metrics

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
T = TypeVar("T")

_SESSION = re.compile(r"^/api/v3/videos/sessions/([^/]+)$")
_VIDEO = re.compile(r"^/api/v3/videos/(?!sessions$|history$)([^/]+)$")
_EVENTS = re.compile(r"^/api/v3/videos/sessions/([^/]+)/events$")
_VIDEO_EVENTS = re.compile(r"^/api/v3/videos/(?!(?:sessions|history)/)([^/]+)/events$")
DASHBOARD_EVENTS = "/live/events"
MAX_WAIT = 60
_DB_THREADS = 4
_DB = ThreadPoolExecutor(max_workers=_DB_THREADS, thread_name_prefix="live-db")


def _on_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    from django.db import close_old_connections

    close_old_connections()  # as a request would: drop a connection past CONN_MAX_AGE or broken
    return fn(*args, **kwargs)


async def db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a sync (ORM) call on the live pool: at most 4 connections, however many clients wait."""
    return await asyncio.get_running_loop().run_in_executor(_DB, lambda: _on_thread(fn, *args, **kwargs))


@contextmanager
def _counted() -> Iterator[None]:
    """A client waiting from here on (after its first read of the state): the mcphub_live_waiting gauge."""
    metrics.LIVE_WAITING.inc()
    try:
        yield
    finally:
        metrics.LIVE_WAITING.dec()


def close_connections() -> None:
    """Close the database connection of every thread of the live pool (at shutdown; tests, before the test
    database is dropped). Each thread takes exactly one of the closes: they wait for one another."""
    from django.db import connections

    barrier = threading.Barrier(_DB_THREADS)

    def close(_: int) -> None:
        barrier.wait(timeout=30)
        connections.close_all()

    list(_DB.map(close, range(_DB_THREADS)))


class Hub:
    """One per process: session pk -> the events of the waiters on it, set when a change is published."""

    def __init__(self) -> None:
        self.waiters: dict[int, set[asyncio.Event]] = {}
        self.connected = False
        self.held = 0
        self._task: asyncio.Task[None] | None = None
        self._signals: dict[int, int] = {}  # session pk -> signals received (a generation)
        self._reads: dict[tuple[Any, int], asyncio.Future[tuple[str, bool]]] = {}

    def start(self) -> None:
        if self._task is None and settings.LIVE_REDIS_URL:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    @property
    def interval(self) -> float:
        """How long a waiter sleeps between re-reads of its state when no signal comes."""
        return settings.LIVE_SAFETY_SECONDS if self.connected else settings.LIVE_POLL_SECONDS

    @contextmanager
    def watch(self, session_pks: list[int]) -> Iterator[asyncio.Event]:
        self.start()
        event = asyncio.Event()
        for pk in session_pks:
            self.waiters.setdefault(pk, set()).add(event)
        self.held += 1
        try:
            yield event
        finally:
            self.held -= 1
            for pk in session_pks:
                group = self.waiters.get(pk)
                if group is not None:
                    group.discard(event)
                    if not group:
                        del self.waiters[pk]
                        self._signals.pop(pk, None)  # counted only while someone waits: no growth

    def wake(self, session_pk: int) -> None:
        group = self.waiters.get(session_pk)
        if not group:
            return
        self._signals[session_pk] = self._signals.get(session_pk, 0) + 1
        for event in group:
            event.set()

    async def state(self, target: Any) -> tuple[str, bool]:
        """videos.live.state, read once for every waiter on the same target: a read is shared only by waiters
        woken by the same signal (it started after that signal, so it sees the change it announced)."""
        from videos import live

        key = (target, self._signals.get(target.session_pk, 0))
        read = self._reads.get(key)
        if read is None:
            read = asyncio.ensure_future(db(live.state, target))
            self._reads[key] = read
            read.add_done_callback(lambda _: self._reads.pop(key, None))
        return await asyncio.shield(read)

    def wake_all(self) -> None:
        for pk, group in self.waiters.items():
            self._signals[pk] = self._signals.get(pk, 0) + 1
            for event in group:
                event.set()

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        backoff = 0.5
        while True:
            client = aioredis.Redis.from_url(settings.LIVE_REDIS_URL, socket_connect_timeout=5)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(settings.LIVE_CHANNEL)
                self.connected, backoff = True, 0.5
                self.wake_all()  # signals may have gone by while we were not subscribed: everyone re-reads
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    for part in bytes(message["data"]).split(b","):
                        if part.isdigit():
                            self.wake(int(part))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - Redis went away: poll until it is back
                log.warning("live.subscription_lost", extra={"error": type(e).__name__})
            finally:
                self.connected = False
                self.wake_all()
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:  # noqa: BLE001, S110 - already broken
                    pass
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


hub = Hub()


def _query(scope: Scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _wait_seconds(scope: Scope) -> int | None:
    """`wait` when it is a valid 1-60; None (absent or invalid: the view answers, a 422 if invalid)."""
    values = _query(scope).get("wait")
    if not values or len(values) != 1:
        return None
    try:
        wait = int(values[0])
    except ValueError:
        return None
    return wait if 1 <= wait <= MAX_WAIT else None


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


class _Gone(Exception):
    """The client went away."""


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # like a client that is still there; the app is done by then
        return {"type": "http.disconnect"}

    return receive


def _request(scope: Scope, body: bytes = b"") -> Any:
    from django.core.handlers.asgi import ASGIRequest

    return ASGIRequest(scope, io.BytesIO(body))


class _Waiter:
    """Sleeps until its event is set, its interval passes, or the client disconnects."""

    def __init__(self, event: asyncio.Event, receive: Receive) -> None:
        self.event = event
        self.gone = asyncio.ensure_future(receive())  # the body is read: the next message is the disconnect

    async def sleep(self, seconds: float) -> bool:
        """False when the client has gone."""
        if self.gone.done():
            return False
        woken = asyncio.ensure_future(self.event.wait())
        try:
            await asyncio.wait({woken, self.gone}, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        self.event.clear()
        return not self.gone.done()

    @property
    def left(self) -> bool:
        """The client disconnected."""
        return self.gone.done() and not self.gone.cancelled()

    def close(self) -> None:
        self.gone.cancel()


async def _capture(app: ASGIApp, scope: Scope, body: bytes) -> list[Message]:
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, _replay(body), send)
    return messages


class LiveApp:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http" or scope.get("method") != "GET":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        wait = _wait_seconds(scope)
        stream = _EVENTS.match(path) or _VIDEO_EVENTS.match(path)
        poll = (_SESSION.match(path) or _VIDEO.match(path)) if wait is not None else None
        if not (stream or poll or path == DASHBOARD_EVENTS):
            return await self.app(scope, receive, send)
        scope = {**scope, metrics.LIVE_SCOPE_KEY: True}  # counted here, once: not by the views called inside
        answer = _Answer(send)
        try:
            if stream:
                kind = "session" if _EVENTS.match(path) else "video"
                return await self._api_stream(scope, receive, answer.send, kind, stream.group(1))
            if path == DASHBOARD_EVENTS:
                return await self._dashboard_stream(scope, receive, answer.send)
            assert poll is not None and wait is not None
            kind = "session" if _SESSION.match(path) else "video"
            return await self._long_poll(scope, receive, answer.send, kind, poll.group(1), wait)
        except _Gone:
            return None
        finally:
            metrics.http_record("GET", metrics.route_for_path(path), answer.status or 499, answer.seconds())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, close_connections)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _long_poll(self, scope: Scope, receive: Receive, send: Send, kind: str, public_id: str,
                         wait: int) -> None:
        from videos import live

        body = await _read_body(receive)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        key = _header(scope, b"x-api-key") or ""
        target = await db(live.api_target, key=key, kind=kind, public_id=public_id)
        if target is None or hub.held >= settings.LIVE_MAX_WAITERS:
            return await self.app(scope, _replay(body), send)
        conditional = _header(scope, b"if-none-match") is not None
        with hub.watch([target.session_pk]) as event:
            waiter = _Waiter(event, receive)
            try:
                tag, final = await hub.state(target)
                with _counted():
                    return await self._wait_and_answer(scope, send, body, target, waiter, tag, final, conditional,
                                                       deadline)
            finally:
                waiter.close()

    async def _wait_and_answer(self, scope: Scope, send: Send, body: bytes, target: Any, waiter: _Waiter, tag: str,
                               final: bool, conditional: bool, deadline: float) -> None:
        while conditional and not final:  # the view's validator decides: anything but a 304 answers
            answer = await _capture(self.app, scope, body)
            if answer[0].get("status") != 304:
                return await _send_all(send, answer)
            if not await self._until_changed(waiter, target, tag, deadline):
                return None if waiter.left else await _send_all(send, answer)  # the timeout: its 304
            tag, final = await hub.state(target)
        if not final:
            await self._until_changed(waiter, target, tag, deadline)
        if waiter.left:
            return None
        return await self.app(scope, _replay(body), send)

    async def _until_changed(self, waiter: _Waiter, target: Any, tag: str, deadline: float) -> bool:
        """True as soon as `target`'s state tag differs from `tag`; False at the deadline or a disconnect."""

        loop = asyncio.get_running_loop()
        while (left := deadline - loop.time()) > 0:
            if not await waiter.sleep(min(left, hub.interval)):
                return False
            now, _ = await hub.state(target)
            if now != tag:
                return True
        return False

    async def _api_stream(self, scope: Scope, receive: Receive, send: Send, kind: str, public_id: str) -> None:
        from videos import live
        from videos.files import base_url

        body = await _read_body(receive)
        key = _header(scope, b"x-api-key") or ""
        target = await db(live.api_target, key=key, kind=kind, public_id=public_id)
        if target is None:  # the endpoint answers 401/404 in the API's words
            return await self.app(scope, _replay(body), send)
        base = base_url(_request(scope, body))
        last_id = _header(scope, b"last-event-id")
        with hub.watch([target.session_pk]) as event:
            waiter = _Waiter(event, receive)
            try:
                await _start_stream(send)
                tag, final = await hub.state(target)
                events = await db(_events_of, target, base)
                seen = {e.key: e.digest for e in events}
                if last_id != tag:  # a new client, or one that missed something: the whole current state
                    await _send_events(send, events, tag)
                with _counted():
                    await self._stream(waiter, send, target, tag, final, seen, base)
            finally:
                waiter.close()

    async def _stream(self, waiter: _Waiter, send: Send, target: Any, tag: str, final: bool,
                      seen: dict[str, str], base: str) -> None:
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while not final:
            if not await waiter.sleep(min(hub.interval, settings.LIVE_HEARTBEAT_SECONDS)):
                return
            now, final = await hub.state(target)
            if now != tag:
                tag = now
                events = await db(_events_of, target, base)
                fresh = [e for e in events if seen.get(e.key) != e.digest]
                seen.update({e.key: e.digest for e in fresh})
                fresh.sort(key=lambda e: e.name == "session")  # videos first: the session's own state last
                await _send_events(send, fresh, tag)
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= settings.LIVE_HEARTBEAT_SECONDS:
                await _chunk(send, b": keep-alive\n\n")
                quiet_since = loop.time()
        await _chunk(send, b"event: end\ndata: {}\n\n", more=False)

    async def _dashboard_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        from videos import live

        body = await _read_body(receive)
        query = _query(scope)
        ids = [i for value in query.get("v", []) + query.get("s", []) for i in value.split(",") if i][:200]
        targets = await db(live.dashboard_targets, request=_request(scope, body), public_ids=ids)
        if targets is None:
            return await _plain(send, 401, b'{"success": false, "error": {"code": "login_required", '
                                      b'"message": "Log in to follow your videos.", "field": null}}')
        if not targets:
            return await _plain(send, 204, b"")  # EventSource stops; the page keeps its polling
        with hub.watch(sorted({t.session_pk for t in targets.values()})) as event:
            waiter = _Waiter(event, receive)
            try:
                await _start_stream(send)
                states = {pid: await hub.state(t) for pid, t in targets.items()}
                await _chunk(send, _dashboard_events(await db(live.dashboard_snapshot, public_ids=list(targets))))
                with _counted():
                    await self._dashboard_loop(waiter, send, targets, states)
            finally:
                waiter.close()
        return None

    async def _dashboard_loop(self, waiter: _Waiter, send: Send, targets: dict[str, Any],
                              states: dict[str, tuple[str, bool]]) -> None:
        from videos import live

        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while not all(final for _, final in states.values()):
            if not await waiter.sleep(min(hub.interval, settings.LIVE_HEARTBEAT_SECONDS)):
                return
            now = {pid: await hub.state(t) for pid, t in targets.items() if not states[pid][1]}
            moved = [pid for pid, s in now.items() if s[0] != states[pid][0]]
            states.update(now)
            if moved:
                await _chunk(send, _dashboard_events(await db(live.dashboard_snapshot, public_ids=moved)))
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= settings.LIVE_HEARTBEAT_SECONDS:
                await _chunk(send, b": keep-alive\n\n")
                quiet_since = loop.time()
        await _chunk(send, b"event: end\ndata: {}\n\n", more=False)


def _events_of(target: Any, base: str) -> list[Any]:
    """What a stream sends: the session and its videos, or the one video."""
    from videos import live

    if target.video_pk is not None:
        return live.video_events(video_pk=target.video_pk, base=base)
    return live.session_events(session_pk=target.session_pk, base=base)


class _Answer:
    """The status a request answered, for the HTTP metrics, and the time since it came."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None
        self.started = time.perf_counter()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self.status is None:
            self.status = int(message["status"])
        await self._send(message)

    def seconds(self) -> float:
        return time.perf_counter() - self.started


async def _send_all(send: Send, messages: list[Message]) -> None:
    for message in messages:
        await send(message)


async def _start_stream(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),  # nginx: pass events on as they come
    ]})
    await _chunk(send, f"retry: {int(settings.LIVE_POLL_SECONDS * 4000)}\n\n".encode())


async def _chunk(send: Send, data: bytes, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def sse(name: str, data: object, event_id: str | None = None) -> bytes:
    lines = [f"event: {name}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    if event_id is not None:
        lines.insert(0, f"id: {event_id}")
    return ("\n".join(lines) + "\n\n").encode()


async def _send_events(send: Send, events: list[Any], tag: str) -> None:
    """Each event on its own; the last carries the id (the state tag): a client that reconnects with it as
    Last-Event-ID has seen everything up to that state."""
    if events:
        out = b"".join(sse(e.name, e.data, tag if i == len(events) - 1 else None) for i, e in enumerate(events))
        await _chunk(send, out)


def _dashboard_events(rows: list[dict[str, object]]) -> bytes:
    return b"".join(sse(str(row.pop("kind")), row) for row in rows)
