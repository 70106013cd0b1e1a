"""The poll cache's ASGI layer: a settled session or video poll answered from Redis, before Django.

`FastPollApp` wraps the whole site (dashboard/asgi.py). A request it may answer is a `GET` of
`/api/v3/videos/sessions/{id}` or `/api/v3/videos/{id}` with one X-API-Key header, no `wait`, no cookie,
at most one If-None-Match. For those it makes one Redis round trip (a Lua script): the key's token, its
account's generation, the global generation and the entry for (key, path and query, host, scheme), all read
at once. When the entry holds the three current tokens it answers:
- 304 with the headers Django gave its 304 when If-None-Match names the entry's ETag (weak comparison, as
  dashboard.conditional);
- else the 200 Django gave, headers and body byte for byte;
with a fresh X-Request-ID (the client's, when valid, as ObservabilityMiddleware does), the same HTTP metrics
by route and status, and the same `http.request` log line. Anything else (no entry, a stale one, Redis
unreachable, an entry of a 304 alone and no matching tag) goes to the site unchanged: Django answers, and
when its view marked the answer settled (dashboard.pollcache.mark) the layer stores it with the tokens it
read *before* Django ran. Why that ordering never serves a stale answer, and which answers are settled:
dashboard.pollcache. Without FASTPOLL_REDIS_URL the layer is a pass-through.

A Redis error turns the layer off for a few seconds (BREAKER_SECONDS): a down Redis costs each request one
refused connection at most every few seconds, never a timeout per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from typing import Any

from django.conf import settings
from prometheus_client import Counter

from dashboard import conditional, logs, metrics, pollcache
from dashboard.live import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
http_log = logging.getLogger("dashboard.http")  # ObservabilityMiddleware's logger: one log format for both

_PATH = re.compile(r"^/api/v3/videos/(?:sessions/[^/]+|(?!sessions$|history$)[^/]+)$")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # as ObservabilityMiddleware
BREAKER_SECONDS = 5.0
# Headers of a 200 a 304 leaves out (RFC 9110 §15.4.5: a 304 carries the validators and caching fields).
_BODY_HEADERS = {b"content-type", b"content-length"}

ANSWERS = Counter("mcphub_poll_cache_answers", "Session and video polls by how the poll cache answered: hit_200, "
                  "hit_304 (from Redis, no Django), miss (no entry or a stale one: Django answered), off "
                  "(Redis unreachable).", ["outcome"])

# KEYS: the key's token, the global generation, the entry. ARGV[1]: the account generations' key prefix;
# ARGV[2]: "head" for the entry's first line alone (a request with If-None-Match: most likely a 304, whose
# answer needs no body; 50 videos' body is 65 kB). Returns {token, account generation, global generation,
# entry} (false for each one missing); the entry is read only when every token is there (else it is stale).
_LOOKUP = """
local token = redis.call('GET', KEYS[1])
local global = redis.call('GET', KEYS[2])
if not token or not global then return {token or false, false, global or false, false} end
local account = string.match(token, '^(%d+):')
local gen = account and redis.call('GET', ARGV[1] .. account) or false
local entry = false
if gen then entry = redis.call('GET', KEYS[3]) end
if entry and ARGV[2] == 'head' then
  local line = string.find(entry, '\\n', 1, true)
  if line then entry = string.sub(entry, 1, line - 1) end
end
return {token, gen, global, entry}
"""


class _Entry:
    """What was stored: the tokens it is valid under, the ETag, the 304's headers and, from a 200, its
    headers and body. Stored as one JSON line (tokens, tag, headers) then the body's bytes."""

    def __init__(self, raw: bytes) -> None:
        head, newline, self.body = raw.partition(b"\n")
        self.complete = bool(newline)  # else its first line alone was read (_LOOKUP's "head")
        meta = json.loads(head)
        self.tokens: list[str] = meta["t"]
        self.etag: str = meta["e"]
        self.route: str = meta["r"]
        self.headers_304 = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in meta["h304"]]
        self.headers_200 = None if meta["h200"] is None else [(n.encode("latin-1"), v.encode("latin-1"))
                                                                for n, v in meta["h200"]]

    @staticmethod
    def dump(*, tokens: list[str], etag: str, route: str, headers_304: list[tuple[bytes, bytes]],
             headers_200: list[tuple[bytes, bytes]] | None, body: bytes) -> bytes:
        def text(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
            return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]

        meta = {"t": tokens, "e": etag, "r": route, "h304": text(headers_304),
                "h200": None if headers_200 is None else text(headers_200)}
        return json.dumps(meta, separators=(",", ":")).encode() + b"\n" + body


class _Request:
    """What the layer needs of a request it may answer, or None from `of` when it may not."""

    def __init__(self, scope: Scope, key: bytes, if_none_match: str | None, request_id: str | None) -> None:
        self.digest = hashlib.sha256(key).hexdigest()  # ApiKey.digest: what a revocation names
        self.if_none_match = if_none_match
        self.request_id = request_id
        headers = dict(scope["headers"])
        # Everything the answer may depend on besides the key: the path and query (the ETag hashes them), and
        # what Django makes the links' base URL of (videos.files.base_url: Host, the proxy's headers, scheme).
        parts = (self.digest, scope["path"], scope["query_string"], headers.get(b"host", b""),
                 headers.get(b"x-forwarded-host", b""), headers.get(b"x-forwarded-proto", b""),
                 scope.get("scheme", "http"), scope.get("root_path", ""))
        self.entry_key = pollcache.prefix() + "e:" + hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()

    @classmethod
    def of(cls, scope: Scope) -> _Request | None:
        if scope["type"] != "http" or scope.get("method") != "GET" or not _PATH.match(scope["path"]):
            return None
        if b"wait" in scope["query_string"]:  # a long-poll (dashboard.live), or a parameter named like it
            return None
        key = inm = rid = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                if key is not None:
                    return None
                key = value
            elif name == b"if-none-match":
                if inm is not None:
                    return None
                inm = value.decode("latin-1")
            elif name == b"cookie":  # a browser's session: Django decides (Vary, CSRF, messages)
                return None
            elif name == b"x-request-id":
                rid = value.decode("latin-1")
        if not key:
            return None
        return cls(scope, key, inm, rid)


class FastPollApp:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._clients: dict[int, tuple[Any, Any]] = {}  # (client, lookup script): one per event loop
        self._off_until = 0.0

    def _redis(self) -> tuple[Any, Any]:
        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(settings.FASTPOLL_REDIS_URL, socket_timeout=1,
                                                  socket_connect_timeout=1)
            self._clients = {loop: (client, client.register_script(_LOOKUP))}
        return self._clients[loop]

    def _failed(self, e: Exception) -> None:
        if time.monotonic() >= self._off_until:
            log.warning("fastpoll.redis_unavailable", extra={"error": type(e).__name__})
        self._off_until = time.monotonic() + BREAKER_SECONDS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _Request.of(scope) if scope["type"] == "http" and pollcache.enabled() else None
        if request is None:
            return await self.app(scope, receive, send)
        if time.monotonic() < self._off_until:
            ANSWERS.labels("off").inc()
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        try:
            tokens, entry = await self._lookup(request, head=request.if_none_match is not None)
            if entry is not None and entry.tokens == tokens and not conditional.matches(request.if_none_match,
                                                                                         entry.etag):
                tokens, entry = await self._lookup(request, head=False)  # not a 304 after all: the body too
        except Exception as e:  # noqa: BLE001 - Redis down or slow: Django answers, as without the layer
            self._failed(e)
            ANSWERS.labels("off").inc()
            return await self.app(scope, receive, send)
        if entry is not None and await self._answer(request, entry, tokens, send, started):
            return
        ANSWERS.labels("miss").inc()
        await self._through(scope, receive, send, request, tokens, started)

    async def _lookup(self, request: _Request, *, head: bool) -> tuple[list[str | None], _Entry | None]:
        _, lookup = self._redis()
        token, gen, global_, raw = await lookup(
            keys=[pollcache.key_token_key(request.digest), pollcache.global_key(), request.entry_key],
            args=[pollcache.account_key(""), "head" if head else "all"])
        tokens = [t.decode() if t is not None else None for t in (token, gen, global_)]
        return tokens, _Entry(raw) if raw else None

    async def _answer(self, request: _Request, entry: _Entry, tokens: list[str | None], send: Send,
                      started: float) -> bool:
        if entry.tokens != tokens:
            return False
        if conditional.matches(request.if_none_match, entry.etag):
            status, headers, body = 304, entry.headers_304, b""
        elif entry.headers_200 is not None and entry.complete:
            status, headers, body = 200, entry.headers_200, entry.body
        else:
            return False
        rid = request.request_id if request.request_id and _VALID_ID.match(request.request_id) else uuid.uuid4().hex
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"x-request-id", rid.encode())]})
        await send({"type": "http.response.body", "body": body})
        ANSWERS.labels(f"hit_{status}").inc()
        self._observed(entry.route, status, time.perf_counter() - started, rid)
        return True

    @staticmethod
    def _observed(route: str, status: int, seconds: float, rid: str) -> None:
        """What ObservabilityMiddleware does for a request Django answers: the metrics and the log line."""
        metrics.HTTP_REQUESTS.labels("GET", route, str(status)).inc()
        metrics.HTTP_LATENCY.labels("GET", route).observe(seconds)
        token = logs.request_id.set(rid)
        try:
            http_log.info("http.request", extra={"method": "GET", "route": route, "status": status,
                                                 "duration_ms": round(seconds * 1000, 1)})
        finally:
            logs.request_id.reset(token)

    async def _through(self, scope: Scope, receive: Receive, send: Send, request: _Request,
                       tokens: list[str | None], started: float) -> None:
        """Let the site answer, passing everything on as it comes; keep a settled answer."""
        slot: dict[str, Any] = {}
        start: Message = {}
        chunks: list[bytes] = []

        async def forward(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app({**scope, pollcache.SLOT: slot}, receive, forward)
        if not slot.get("settled") or start.get("status") not in (200, 304):
            return
        try:
            await self._store(request, tokens, slot, start, b"".join(chunks), started)
        except Exception as e:  # noqa: BLE001 - the answer went out; only its replay is lost
            self._failed(e)

    async def _store(self, request: _Request, tokens: list[str | None], slot: dict[str, Any], start: Message,
                     body: bytes, started: float) -> None:
        client, _ = self._redis()
        token, gen, global_ = tokens
        account = str(slot["account"])
        if token is None or gen is None or global_ is None:
            # The first answer for this key (or after an invalidation): start the tokens. This answer is not
            # stored: its reads were not preceded by a read of the tokens. The next one is.
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(pollcache.key_token_key(request.digest), f"{account}:{uuid.uuid4().hex}", nx=True,
                         ex=pollcache.GEN_TTL)
                pipe.set(pollcache.account_key(account), uuid.uuid4().hex, nx=True, ex=pollcache.GEN_TTL)
                pipe.set(pollcache.global_key(), uuid.uuid4().hex, nx=True, ex=pollcache.GEN_TTL)
                await pipe.execute()
            return
        if token.split(":", 1)[0] != account:  # never: a key has one owner; if it moved, forget the key
            await client.delete(pollcache.key_token_key(request.digest))
            return
        ttl = pollcache.entry_ttl(time.time() - (time.perf_counter() - started))  # from before Django ran
        headers = [(n, v) for n, v in start.get("headers", []) if n.lower() != b"x-request-id"]
        etag = next((v.decode("latin-1") for n, v in headers if n.lower() == b"etag"), None)
        if etag is None or ttl < 1:
            return
        if start["status"] == 200:
            entry = _Entry.dump(tokens=[token, gen, global_], etag=etag, route=slot["route"], headers_200=headers,
                                headers_304=[(n, v) for n, v in headers if n.lower() not in _BODY_HEADERS]
                                + [(b"content-length", b"0")], body=body)
        else:
            entry = _Entry.dump(tokens=[token, gen, global_], etag=etag, route=slot["route"], headers_200=None,
                                headers_304=headers, body=b"")
        await client.set(request.entry_key, entry, ex=ttl)
