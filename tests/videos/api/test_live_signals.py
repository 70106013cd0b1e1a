"""What wakes a long-poll: the change signal published on commit (real Redis), the state tag that says whether
what a client waits for has changed, and what the wait and stream endpoints answer under a plain WSGI server."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import transaction

from tests.factories import make_session
from videos import lifecycle, live
from videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def channel(settings: Any) -> Any:
    """A subscription to a channel of this test's own (channels are global to the Redis server)."""
    settings.LIVE_CHANNEL = f"test-live-signals:{time.monotonic_ns()}"
    live._redis.cache_clear()
    client = redis.Redis.from_url(settings.LIVE_REDIS_URL)
    pubsub = client.pubsub()
    pubsub.subscribe(settings.LIVE_CHANNEL)
    assert pubsub.get_message(timeout=5.0)["type"] == "subscribe"  # listening from here on
    yield pubsub
    pubsub.close()


def _messages(pubsub: Any) -> list[bytes]:
    got = []
    while (message := pubsub.get_message(timeout=1.0)) is not None:
        if message["type"] == "message":
            got.append(message["data"])
    return got


def test_a_move_publishes_its_session_once_the_transaction_commits(alice: Any, channel: Any) -> None:
    if not settings.LIVE_REDIS_URL:
        pytest.skip("needs Redis (make test sets REDIS_URL)")
    session = make_session(owner=alice)
    video = session.videos.get()
    _messages(channel)  # the creation's own signal
    with transaction.atomic():
        assert lifecycle.move(video.pk, Video.Stage.RENDERING, owner=None, frm=(Video.Stage.QUEUED,))
        assert channel.get_message(timeout=0.2) is None  # nothing before the commit
    assert _messages(channel) == [str(session.pk).encode()]
    with transaction.atomic():
        lifecycle.move(video.pk, Video.Stage.FAILED, frm=(Video.Stage.RENDERING,))
        transaction.set_rollback(True)
    assert _messages(channel) == []  # rolled back: nothing happened, nothing said


def test_the_state_tag_moves_with_status_progress_and_new_videos_only(alice: Any) -> None:
    session = make_session(owner=alice)
    video = session.videos.get()
    one, whole = live.Target(session_pk=session.pk, video_pk=video.pk), live.Target(session_pk=session.pk)
    before = live.state(one), live.state(whole)
    assert not before[0][1] and not before[1][1]
    Video.objects.filter(pk=video.pk).update(lease_owner="x", vendor_status="still going")  # not what clients see
    assert (live.state(one), live.state(whole)) == before
    Video.objects.filter(pk=video.pk).update(progress=40)
    assert live.state(one)[0] != before[0][0] and live.state(whole)[0] != before[1][0]
    Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED, progress=100)
    assert live.state(one)[1] is True  # a final video
    assert live.state(whole)[1] is False  # its session is still running
    session.status = "completed"
    session.save(update_fields=["status"])
    assert live.state(whole)[1] is True
    session.delete()
    assert live.state(whole) == ("gone", True)


def test_wait_out_of_range_is_a_422_naming_wait(alice_api: Any, alice: Any) -> None:
    session = make_session(owner=alice)
    video = session.videos.get()
    for path in (f"/videos/{video.public_id}", f"/videos/sessions/{session.public_id}"):
        for wait in ("0", "61", "-1", "soon"):
            r = alice_api.get(path, wait=wait)
            assert r.status_code == 422 and r.json()["error"]["field"] == "wait", (path, wait, r.content)
        r = alice_api.get(path, wait="5")  # a plain WSGI server answers at once
        assert r.status_code == 200


def test_under_wsgi_the_event_stream_is_a_snapshot_that_the_client_reconnects_to(alice_api: Any, alice: Any,
                                                                                bob_api: Any) -> None:
    session = make_session(owner=alice)
    r = alice_api.get(f"/videos/sessions/{session.public_id}/events")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/event-stream")
    text = r.content.decode()
    assert text.startswith("retry: ")
    blocks = [b for b in text.split("\n\n") if b.startswith(("event:", "id:"))]
    assert [b.split("event: ")[1].split("\n")[0] for b in blocks] == ["session", "video"]
    video = json.loads(blocks[1].split("data: ")[1])
    assert video["video_id"] == session.videos.get().public_id and video["status"] == "pending"
    event_id = blocks[-1].split("id: ")[1].split("\n")[0]
    again = alice_api.client.get(f"/api/v3/videos/sessions/{session.public_id}/events",
                                 headers={"X-API-Key": alice_api.key, "Last-Event-ID": event_id})
    assert "event:" not in again.content.decode()  # nothing changed since that id
    assert bob_api.get(f"/videos/sessions/{session.public_id}/events").status_code == 404


def test_the_dashboard_stream_under_wsgi_tells_the_page_to_keep_polling(client: Any, alice: Any) -> None:
    client.force_login(alice)
    r = client.get("/live/events", {"v": "vid_x"})
    assert r.status_code == 204  # EventSource stops reconnecting; the cards' hx-trigger polling goes on
