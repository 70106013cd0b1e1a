"""The long-poll layer (dashboard.live.LiveApp) around an endpoint that answers validators: with If-None-Match,
"tag + wait" answers the endpoint's new answer once the state moves, and its 304 when nothing moved. The
endpoint here is a stand-in ASGI app with an ETag (the real ETags come with the endpoints); the waiting, the
state reads and the database are the real ones, on the default setup's polling re-check."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dashboard import live as layer
from tests.factories import make_key, make_session
from videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)


def _run(coroutine: Any) -> Any:
    """asyncio.run on a thread of its own: the suite's browser tests leave an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(autouse=True)
def _pool_closed() -> Any:
    yield
    layer.close_connections()  # the layer's threads keep connections open: the test database must be dropped


class TaggedEndpoint:
    """GET /api/v3/videos/{id}: 200 with the video's progress and ETag "p<progress>", 304 when If-None-Match matches."""

    def __init__(self, video_pk: int) -> None:
        self.video_pk = video_pk
        self.answered_304 = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        progress = await layer.db(lambda: Video.objects.values_list("progress", flat=True).get(pk=self.video_pk))
        tag = f'"p{progress}"'
        asked = dict(scope["headers"]).get(b"if-none-match", b"").decode()
        if asked == tag:
            self.answered_304.set()
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", tag.encode())]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"etag", tag.encode())]})
        await send({"type": "http.response.body", "body": json.dumps({"progress": progress}).encode()})


async def _get(app: Any, path: str, wait: int, headers: dict[str, str]) -> tuple[int, bytes]:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": f"wait={wait}".encode(),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()], "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": "", "http_version": "1.1"}
    body_sent = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not body_sent.is_set():
            body_sent.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays
        return {"type": "http.disconnect"}

    answer: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


def test_tag_and_wait_answer_the_new_state_when_it_moves_and_304_when_it_does_not(alice: Any, settings: Any) -> None:
    settings.LIVE_REDIS_URL = ""  # the default setup: waiters re-read the state every LIVE_POLL_SECONDS
    settings.LIVE_POLL_SECONDS = 0.1
    session = make_session(owner=alice)
    video = session.videos.get()
    _, key = make_key(alice)
    headers = {"X-API-Key": key, "If-None-Match": '"p0"'}

    async def scenario() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        endpoint = TaggedEndpoint(video.pk)
        app = layer.LiveApp(endpoint)
        waiting = asyncio.ensure_future(_get(app, f"/api/v3/videos/{video.public_id}", 60, headers))
        await endpoint.answered_304.wait()  # the endpoint said "not modified": the layer waits now
        await layer.db(lambda: Video.objects.filter(pk=video.pk).update(progress=40))
        moved = await waiting
        unchanged = await _get(app, f"/api/v3/videos/{video.public_id}", 1, {**headers, "If-None-Match": '"p40"'})
        return moved, unchanged

    moved, unchanged = _run(scenario())
    assert moved == (200, b'{"progress": 40}')
    assert unchanged == (304, b"")  # the timeout: still the client's version


def test_a_request_that_is_not_ours_to_wait_on_reaches_the_endpoint_at_once(alice: Any, bob: Any) -> None:
    session = make_session(owner=alice)
    video = session.videos.get()
    _, bob_key = make_key(bob)

    async def scenario() -> list[tuple[int, bytes]]:
        endpoint = TaggedEndpoint(video.pk)
        app = layer.LiveApp(endpoint)
        path = f"/api/v3/videos/{video.public_id}"
        # Another account's key, no key: the endpoint answers (with its own 404/401 in the real API), no wait.
        return [await _get(app, path, 60, {"X-API-Key": bob_key}), await _get(app, path, 60, {})]

    assert _run(scenario()) == [(200, b'{"progress": 0}')] * 2
