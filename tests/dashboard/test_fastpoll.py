"""The poll cache (dashboard.fastpoll in front of the real site: LiveApp, a2wsgi, Django, PostgreSQL or SQLite,
and a real Redis): a settled poll is answered from Redis with Django's own bytes, and every change its answer
shows (the ledger, the key, deletions, the admin's edits, the catalog) sends the next poll back to Django.

Whether an answer came from the cache is seen from the site behind the layer: `Site.calls` counts the requests
that reached Django."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application
from django.db import connections, transaction

from billing import services as billing
from billing.models import ApiKey, CreditAccount
from dashboard import live, metrics, pollcache
from dashboard.fastpoll import FastPollApp
from tests.factories import make_key, make_session, make_user
from videos import services
from videos.models import GenerationSession, Video, VideoModel
from videos.services.work import video_start

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not REDIS_URL, reason="the poll cache needs Redis (REDIS_URL)")]
VOLATILE = {b"x-request-id", b"date", b"server"}
WORKERS = 2


class Site:
    """The site as dashboard/asgi.py builds it (minus the layer), counting the requests that reach Django, with
    a hook run after Django answered (a writer racing the layer's store)."""

    def __init__(self) -> None:
        self.wsgi = WSGIMiddleware(get_wsgi_application(), workers=WORKERS)  # type: ignore[arg-type]
        self.app = live.LiveApp(self.wsgi)  # type: ignore[arg-type]
        self.calls = 0
        self.after: Callable[[], None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.app(scope, receive, send)
        if self.after is not None:
            after, self.after = self.after, None
            await asyncio.get_running_loop().run_in_executor(self.wsgi.executor, after)

    async def close(self) -> None:
        """Close the database connections of every thread that served (the test database must be dropped)."""
        together = threading.Barrier(WORKERS)

        def close() -> None:
            together.wait(timeout=30)  # holds each thread until all have one: every thread runs one
            connections.close_all()

        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self.wsgi.executor, close) for _ in range(WORKERS)))
        await loop.run_in_executor(None, live.close_connections)


class Answer:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        return next((v.decode() for n, v in self.headers if n == name.lower().encode()), None)

    def same(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """What must be identical between the cache's answer and Django's: all but per-request headers."""
        return self.status, sorted((n.lower(), v) for n, v in self.headers if n.lower() not in VOLATILE), self.body


async def _get(app: Any, path: str, key: str | None = None, etag: str | None = None,
               extra: dict[str, str] | None = None) -> Answer:
    path, _, query = path.partition("?")
    headers = [(b"host", b"testserver")]
    if key is not None:
        headers.append((b"x-api-key", key.encode()))
    if etag is not None:
        headers.append((b"if-none-match", etag.encode()))
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": headers,
             "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1), "root_path": "",
             "http_version": "1.1", "asgi": {"version": "3.0"}}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    out: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"], out["headers"] = message["status"], list(message["headers"])
        else:
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return Answer(out["status"], out["headers"], out["body"])


Scenario = Callable[[Site, FastPollApp], Awaitable[None]]


def _run(scenario: Scenario) -> None:
    """Run the scenario on an event loop of its own thread (the suite's browser tests leave one in this one)."""
    async def main() -> None:
        site = Site()
        try:
            await scenario(site, FastPollApp(site))
        finally:
            await site.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()


@pytest.fixture(autouse=True)
def _cache(settings: Any) -> Any:
    settings.FASTPOLL_REDIS_URL = REDIS_URL
    settings.FASTPOLL_PREFIX = f"test-fastpoll:{uuid.uuid4().hex}"  # no other test's entries
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["testserver"]
    yield
    client = pollcache._client()
    for name in client.scan_iter(f"{settings.FASTPOLL_PREFIX}:*"):
        client.delete(name)


@pytest.fixture
def done(alice: Any) -> dict[str, Any]:
    """alice's key and a completed one-video session (its file, thumbnail and last frame signed in answers)."""
    session = make_session(owner=alice, width=320, height=180)
    video_start(session.videos.get().pk)
    session.refresh_from_db()
    assert session.status == GenerationSession.Status.COMPLETED
    video = session.videos.get()
    return {"key": make_key(alice)[1], "session": session, "video": video,
            "poll": f"/api/v3/videos/sessions/{session.public_id}", "video_poll": f"/api/v3/videos/{video.public_id}"}


async def _warm(site: Site, app: FastPollApp, path: str, key: str) -> Answer:
    """Poll until the cache answers (the first answer starts the key's tokens, the second is stored)."""
    for _ in range(3):
        answer = await _get(app, path, key)
        before = site.calls
        again = await _get(app, path, key)
        if site.calls == before:
            assert again.same() == answer.same()
            return again
    raise AssertionError(f"{path} was never answered from the cache")


async def _django(site: Site, path: str, key: str | None, etag: str | None = None) -> Answer:
    """Django's own answer now (the site without the layer)."""
    return await _get(site.app, path, key, etag)


def test_a_settled_poll_is_replayed_byte_for_byte_and_its_304_too(done: dict[str, Any]) -> None:
    async def scenario(site: Site, app: FastPollApp) -> None:
        for path in (done["poll"], done["poll"] + "?page=1&page_size=50", done["video_poll"]):
            cached = await _warm(site, app, path, done["key"])
            assert cached.status == 200 and cached.header("ETag") and b'"video_url": "http' in cached.body
            assert cached.same() == (await _django(site, path, done["key"])).same()
            before = site.calls
            tag = cached.header("ETag")
            fast_304 = await _get(app, path, done["key"], etag=tag)
            assert site.calls == before and fast_304.status == 304 and fast_304.body == b""
            assert fast_304.same() == (await _django(site, path, done["key"], etag=tag)).same()
            assert (await _get(app, path, done["key"], etag=f'"{tag[3:-1]}", W/"other"')).status == 304  # a list
            assert site.calls == before  # (Django's own answers above were asked of the site without the layer)
            other_tag = await _get(app, path, done["key"], etag='W/"not-current"')
            assert other_tag.status == 200 and other_tag.same() == cached.same() and site.calls == before

    _run(scenario)


def test_a_request_id_metrics_and_the_log_line_for_each_cached_answer(done: dict[str, Any], caplog: Any) -> None:
    route = "api/v3/videos/sessions/<session_id>"

    def count(status: str) -> float:
        return metrics.HTTP_REQUESTS.labels("GET", route, status)._value.get()

    async def scenario(site: Site, app: FastPollApp) -> None:
        await _warm(site, app, done["poll"], done["key"])
        ok, not_modified = count("200"), count("304")
        http_log = logging.getLogger("dashboard.http")  # it does not propagate to the root's handlers
        http_log.addHandler(caplog.handler)
        try:
            caplog.clear()
            first = await _get(app, done["poll"], done["key"], extra={"X-Request-ID": "client-id-1"})
            second = await _get(app, done["poll"], done["key"], etag=first.header("ETag"))
        finally:
            http_log.removeHandler(caplog.handler)
        assert first.header("X-Request-ID") == "client-id-1"
        assert second.header("X-Request-ID") and second.header("X-Request-ID") != "client-id-1"
        lines = [r for r in caplog.records if r.getMessage() == "http.request"]
        assert [(r.route, r.status, r.method, r.request_id) for r in lines] == [  # type: ignore[attr-defined]
            (route, 200, "GET", "client-id-1"), (route, 304, "GET", second.header("X-Request-ID"))]
        assert count("200") == ok + 1 and count("304") == not_modified + 1

    _run(scenario)


def test_unfinished_work_is_always_answered_by_django(alice: Any) -> None:
    session = make_session(owner=alice, width=320, height=180)  # pending: eta_seconds, queue position
    key = make_key(alice)[1]
    paths = [f"/api/v3/videos/sessions/{session.public_id}", f"/api/v3/videos/{session.videos.get().public_id}"]

    async def scenario(site: Site, app: FastPollApp) -> None:
        for path in paths:
            for _ in range(3):
                before = site.calls
                answer = await _get(app, path, key)
                assert answer.status == 200 and site.calls == before + 1
                assert (await _get(app, path, key, etag=answer.header("ETag"))).status == 304
                assert site.calls == before + 2

    _run(scenario)


def test_polls_through_the_layer_follow_a_session_from_pending_to_completed(alice: Any) -> None:
    import json

    session = make_session(owner=alice, width=320, height=180)
    key = make_key(alice)[1]
    path, video_pk = f"/api/v3/videos/sessions/{session.public_id}", session.videos.get().pk

    async def scenario(site: Site, app: FastPollApp) -> None:
        for _ in range(3):
            pending = await _get(app, path, key)
            assert json.loads(pending.body)["session"]["status"] in {"pending", "running"}
        await asyncio.get_running_loop().run_in_executor(site.wsgi.executor, video_start, video_pk)
        before = site.calls
        done = await _get(app, path, key, etag=pending.header("ETag"))
        assert done.status == 200 and site.calls == before + 1
        assert json.loads(done.body)["session"]["status"] == "completed"
        assert json.loads(done.body)["videos"][0]["video_url"].startswith("http://testserver/")
        cached = await _warm(site, app, path, key)
        assert cached.same() == (await _django(site, path, key)).same()

    _run(scenario)


def test_a_session_with_one_video_still_at_work_is_not_settled_on_any_page(alice: Any) -> None:
    """A stopped session's video still at a vendor will complete: every page shows the session's counts."""
    session = make_session(owner=alice, width=320, height=180)
    video_start(session.videos.get().pk)
    second = Video.objects.get(pk=session.videos.get().pk)
    second.pk = second.id = None
    second.public_id, second.sequence, second.stage, second.status = "vid_" + uuid.uuid4().hex[:20], 1, "submitted", \
        "processing"
    second.save()
    key = make_key(alice)[1]
    path = f"/api/v3/videos/sessions/{session.public_id}?page=1&page_size=1"  # the completed video's page alone

    async def scenario(site: Site, app: FastPollApp) -> None:
        for _ in range(3):
            before = site.calls
            assert (await _get(app, path, key)).status == 200 and site.calls == before + 1

    _run(scenario)


def _committed(write: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with transaction.atomic():
            return write()
    return run


# Each writer that changes something a settled answer shows; the answer Django gives afterwards.
WRITERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "credits granted": lambda w: billing.credits_grant(user=w["session"].owner, amount=Decimal(5), key="grant-x"),
    "credits charged": lambda w: billing.credits_charge(user=w["session"].owner, amount=Decimal(3), key="charge-x"),
    "a batch of charges": lambda w: billing.credits_charge_many(
        [billing.Charge(user_id=w["session"].owner_id, amount=Decimal(2), key="batch-x")]),
    "credits refunded": lambda w: billing.credits_refund(user=w["session"].owner, amount=Decimal(1), key="refund-x"),
    "key revoked": lambda w: billing.api_key_revoke(key=ApiKey.objects.get(owner=w["session"].owner)),
    "key deleted": lambda w: ApiKey.objects.filter(owner=w["session"].owner).delete(),
    "user deactivated": lambda w: _save_user_inactive(w),
    "session deleted (service)": lambda w: services.session_delete(session=w["session"]),
    "video deleted (admin)": lambda w: Video.objects.get(pk=w["video"].pk).delete(),
    "session edited (admin)": lambda w: _admin_edit(GenerationSession.objects.get(pk=w["session"].pk), "prompt",
                                                    "Edited by an operator"),
    "video edited (admin)": lambda w: _admin_edit(Video.objects.get(pk=w["video"].pk), "error", "operator note"),
    "account edited (admin)": lambda w: CreditAccount.objects.get(user_id=w["session"].owner_id).save(),
    "model renamed (catalog)": lambda w: _admin_edit(VideoModel.objects.get(pk=w["session"].model_id), "model_id",
                                                     "renamed-model"),
}


def _save_user_inactive(w: dict[str, Any]) -> None:
    user = w["session"].owner.__class__.objects.get(pk=w["session"].owner_id)
    user.is_active = False
    user.save()


def _admin_edit(obj: Any, field: str, value: Any) -> None:
    setattr(obj, field, value)
    obj.save()


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_kind_of_change_sends_the_next_poll_to_django(done: dict[str, Any], writer: str) -> None:
    async def scenario(site: Site, app: FastPollApp) -> None:
        paths = [done["poll"], done["video_poll"]]
        cached = {path: await _warm(site, app, path, done["key"]) for path in paths}
        await asyncio.get_running_loop().run_in_executor(site.wsgi.executor, _committed(
            lambda: WRITERS[writer](done)))
        changed = []
        for path in paths:
            before = site.calls
            answer = await _get(app, path, done["key"])
            assert site.calls == before + 1, f"{writer}: {path} answered from the cache"
            assert answer.same() == (await _django(site, path, done["key"])).same()
            changed.append(answer.same() != cached[path].same())
            # A tag given out before the change gets what Django gives it (a new answer, or a 304 where the
            # weak tag leaves the change out: an operator's edit of a prompt or a model's name).
            tag = cached[path].header("ETag")
            assert (await _get(app, path, done["key"], etag=tag)).same() == (
                await _django(site, path, done["key"], etag=tag)).same()
        assert any(changed), f"{writer} changed neither answer: not a writer the cache must know of"
        if writer in {"key revoked", "key deleted", "user deactivated"}:
            assert answer.status == 401
        if writer == "session deleted (service)":
            assert answer.status == 404

    _run(scenario)


def test_a_change_between_djangos_reads_and_the_store_is_never_served(done: dict[str, Any]) -> None:
    """The race the ordering is for: the layer reads the tokens, Django reads the old balance, a charge commits
    (and drops the account's token), then the layer stores the old answer: it must never be served."""
    async def scenario(site: Site, app: FastPollApp) -> None:
        await _get(app, done["poll"], done["key"])  # the key's tokens start
        site.after = _committed(lambda: billing.credits_charge(user=done["session"].owner, amount=Decimal(7),
                                                               key="racing-charge"))
        old = await _get(app, done["poll"], done["key"])  # stored after the charge, with the tokens read before
        assert site.after is None  # the charge ran after Django answered
        before = site.calls
        new = await _get(app, done["poll"], done["key"])
        assert site.calls == before + 1 and new.body != old.body
        assert _remaining(new) == _remaining(old) - 7
        assert new.same() == (await _django(site, done["poll"], done["key"])).same()

    _run(scenario)


def _remaining(answer: Answer) -> float:
    import json

    return float(json.loads(answer.body)["videos"][0]["remaining_credits"])


def test_another_accounts_key_is_never_answered_from_alices_entries(done: dict[str, Any]) -> None:
    bob_key = make_key(make_user("bob", credits=10))[1]

    async def scenario(site: Site, app: FastPollApp) -> None:
        await _warm(site, app, done["poll"], done["key"])
        for _ in range(3):
            before = site.calls
            answer = await _get(app, done["poll"], bob_key)
            assert answer.status == 404 and site.calls == before + 1
            assert (await _get(app, done["poll"], "mcp_not-a-key")).status == 401
            assert (await _get(app, done["poll"])).status == 401

    _run(scenario)


def test_without_redis_every_poll_is_answered_by_django_correctly(done: dict[str, Any], settings: Any) -> None:
    async def scenario(site: Site, app: FastPollApp) -> None:
        await _warm(site, app, done["poll"], done["key"])
        settings.FASTPOLL_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens: Redis is down
        app._clients.clear()
        for _ in range(3):
            before = site.calls
            answer = await _get(app, done["poll"], done["key"])
            assert answer.status == 200 and site.calls == before + 1
            assert answer.same() == (await _django(site, done["poll"], done["key"])).same()
            assert (await _get(app, done["poll"], done["key"], etag=answer.header("ETag"))).status == 304
        # A write while the layer cannot reach Redis: Django answers what it changed.
        await asyncio.get_running_loop().run_in_executor(site.wsgi.executor, lambda: billing.credits_grant(
            user=done["session"].owner, amount=Decimal(1), key="while-down"))
        assert _remaining(await _get(app, done["poll"], done["key"])) == _remaining(answer) + 1

    _run(scenario)


def test_requests_the_layer_does_not_answer_pass_through(done: dict[str, Any]) -> None:
    async def scenario(site: Site, app: FastPollApp) -> None:
        await _warm(site, app, done["poll"], done["key"])
        for path, extra in ((done["poll"] + "?wait=1", {}), (done["poll"] + "/events", {}),
                            (done["poll"], {"Cookie": "sessionid=x"}), ("/api/v3/videos/sessions", {}),
                            ("/api/v3/videos/history", {})):
            before = site.calls
            answer = await _get(app, path, done["key"], extra=extra)
            assert answer.status == 200 and site.calls == before + 1, path

    _run(scenario)


def test_an_entry_ends_before_its_signed_links_would_be_renewed(settings: Any) -> None:
    settings.FASTPOLL_TTL = 60
    settings.FILE_URL_TTL = 24 * 3600
    hour = 1_800_000_000 // 3600 * 3600
    assert pollcache.entry_ttl(hour + 100) == 60
    assert pollcache.entry_ttl(hour + 3600 - 10) == 9  # url_expiry() moves at the next hour: the ETag too
    assert pollcache.entry_ttl(hour + 3600 - 1) == 0  # too close: not stored


def test_a_final_video_never_moves_again() -> None:
    """What makes a settled answer replayable: no lifecycle move leaves a final stage (dashboard.pollcache). A
    move out of one would need the poll cache to learn of lifecycle writes first."""
    from videos import lifecycle

    for to, sources in lifecycle.ALLOWED.items():
        assert not set(sources) & set(lifecycle.FINAL), f"a move to {to} from a final stage"


def test_one_invalidation_per_transaction_and_none_lost_to_a_rolled_back_savepoint(alice: Any) -> None:
    client = pollcache._client()
    token = pollcache.account_key(alice.pk)
    client.set(token, "before")
    with transaction.atomic():
        try:
            with transaction.atomic():
                billing.credits_grant(user=alice, amount=Decimal(1), key="rolled-back")
                raise RuntimeError("roll this savepoint back")
        except RuntimeError:
            pass
        billing.credits_charge(user=alice, amount=Decimal(2), key="kept")
        billing.credits_grant(user=alice, amount=Decimal(3), key="kept-too")
        flushes = [c for _, c, _ in transaction.get_connection().run_on_commit if isinstance(c, pollcache.Flush)]
        assert len(flushes) == 1 and client.get(token) == b"before"  # not before the commit
    assert client.get(token) is None
