"""Long-polls (`wait=N`) and the session and video event streams through the production ASGI server, with a real
Celery worker rendering the video: answers come when the video changes (each answer shows something new), the
timeout answers the current state, the streams end with the final state, errors stay the API's JSON, and each
long-poll and stream counts once in the HTTP metrics, with its whole duration."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.conf import settings as django_settings
from django.db import connection

from tests.e2e.asgi import Stack, live_stack
from tests.factories import make_key, make_session, make_user

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
MODEL = "luma-ray-2.0-flash-5s-t2v"


@pytest.fixture(params=["redis", "polling"])
def stack(request: Any, transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[Stack]:
    """The server and worker, woken by Redis pub/sub or (the default setup) by the periodic re-check."""
    if connection.vendor != "postgresql" or django_settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("needs PostgreSQL and a broker server (make test sets both)")
    from videos.catalog import catalog_sync
    from videos.models import VideoModel

    catalog_sync(VideoModel)  # a transactional test before this one may have flushed the catalog
    with live_stack(database=connection.settings_dict, media_root=str(settings.MEDIA_ROOT), tmp_path=tmp_path,
                    secret_key=django_settings.SECRET_KEY, redis=request.param == "redis") as stack:
        yield stack


@pytest.fixture
def unsent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions made in the test process send no task: their videos stay queued (nothing will change them)."""
    from videos import tasks

    monkeypatch.setattr(tasks.video_start_task, "delay_on_commit", lambda *a, **k: None)
    monkeypatch.setattr(tasks.session_tick_task, "apply_async", lambda *a, **k: None)


def _waiting(stack: Stack) -> float:
    """Clients the server holds now (its mcphub_live_waiting gauge)."""
    found = re.search(r"^mcphub_live_waiting\s+([\d.]+)$", requests.get(f"{stack.url}/metrics", timeout=60).text,
                      re.M)
    return float(found.group(1)) if found else 0.0


def _generate(stack: Stack, key: str, **fields: Any) -> dict[str, Any]:
    r = requests.post(f"{stack.url}/api/v3/videos/generate", headers={"X-API-Key": key}, timeout=60, json={
        "prompt": "A paper boat on a calm lake", "model": MODEL, **fields})  # 720p: a few seconds of progress
    assert r.status_code == 201, r.text
    return r.json()


def _events(response: requests.Response) -> Iterator[tuple[str | None, str, dict[str, Any]]]:
    """(id, event, data) of each server-sent event; comment lines (heartbeats) are skipped."""
    event_id, name, data = None, "message", ""
    for raw in response.iter_lines(decode_unicode=True):
        if raw == "":
            if data:
                yield event_id, name, json.loads(data)
            event_id, name, data = None, "message", ""
        elif raw.startswith((":", "retry:")):
            continue
        elif raw.startswith("id:"):
            event_id = raw[3:].strip()
        elif raw.startswith("event:"):
            name = raw[6:].strip()
        elif raw.startswith("data:"):
            data += raw[5:].strip()


def test_a_long_poll_answers_each_change_of_the_video_until_it_is_completed(stack: Stack) -> None:
    user = make_user("alice")
    _, key = make_key(user)
    video_id = _generate(stack, key)["video_id"]
    seen: list[tuple[str, int]] = []
    state = None
    for _ in range(200):  # far more than the changes a render makes
        r = requests.get(f"{stack.url}/api/v3/videos/{video_id}", params={"wait": 60},
                         headers={"X-API-Key": key}, timeout=120)
        assert r.status_code == 200, r.text
        body = r.json()
        now = (body["status"], body["progress"])
        # Woken by a change, not by the 60 s timeout: every answer shows something the previous one did not.
        assert now != state, seen
        seen.append(now)
        state = now
        if body["status"] == "completed":
            break
    assert seen[-1] == ("completed", 100) and body["video_url"], seen
    assert [p for _, p in seen] == sorted(p for _, p in seen)  # progress only moves forward
    # Processing on the way, not just the end (how many steps a waiter sees depends on how fast the render runs).
    assert len(seen) >= 2 and seen[0][0] == "processing" and seen[0][1] < 100, seen

    # A final resource answers at once with its state (it will not change again).
    again = requests.get(f"{stack.url}/api/v3/videos/{video_id}", params={"wait": 60}, headers={"X-API-Key": key},
                         timeout=120)
    assert again.json()["status"] == "completed"


def test_a_session_long_poll_and_its_event_stream_follow_the_render_to_the_end(stack: Stack) -> None:
    user = make_user("alice")
    _, key = make_key(user)
    created = _generate(stack, key)
    session_id, video_id = created["session_id"], created["video_id"]
    url = f"{stack.url}/api/v3/videos/sessions/{session_id}"

    stream = requests.get(f"{url}/events", headers={"X-API-Key": key}, stream=True, timeout=120)
    assert stream.status_code == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")

    first = requests.get(url, params={"wait": 60}, headers={"X-API-Key": key}, timeout=120).json()
    assert first["videos"][0]["video_id"] == video_id
    assert (first["videos"][0]["status"], first["videos"][0]["progress"]) != (created["status"], 0)  # woken

    events = list(_events(stream))
    names = [name for _, name, _ in events]
    assert names[0] == "session" and names[-1] == "end"  # a snapshot first; the stream ends when all is final
    videos = [data for _, name, data in events if name == "video"]
    sessions = [data for _, name, data in events if name == "session"]
    assert all(v["video_id"] == video_id and v["session_id"] == session_id for v in videos)
    assert [v["progress"] for v in videos] == sorted(v["progress"] for v in videos)  # in order
    assert videos[-1]["status"] == "completed" and videos[-1]["video_url"]
    assert sessions[0]["status"] == "running" and sessions[-1]["status"] == "completed"
    assert names[-2] == "session"  # the session's final state closes the stream, after its video's
    assert set(videos[-1]) >= {"video_id", "status", "progress", "video_url", "credits_used", "created_at"}
    last_id = next(event_id for event_id, _, _ in reversed(events) if event_id)

    # Reconnecting with the last id: nothing changed since, so no snapshot, just the end.
    again = requests.get(f"{url}/events", headers={"X-API-Key": key, "Last-Event-ID": last_id}, stream=True,
                         timeout=120)
    assert [name for _, name, _ in _events(again)] == ["end"]
    # A new client gets the final state as a snapshot.
    fresh = list(_events(requests.get(f"{url}/events", headers={"X-API-Key": key}, stream=True, timeout=120)))
    assert [name for _, name, _ in fresh] == ["session", "video", "end"]
    assert fresh[0][2]["status"] == "completed" and fresh[1][2]["status"] == "completed"


@pytest.mark.parametrize("stack", ["redis"], indirect=True)
def test_a_long_poll_with_nothing_to_wake_it_answers_the_current_state_at_the_timeout(
        stack: Stack, unsent: None) -> None:
    from videos.models import Video

    user = make_user("alice")
    _, key = make_key(user)
    session = make_session(owner=user, model=MODEL)  # created here: no task was sent, so nothing will move it
    video = session.videos.get()
    # 20 clients wait at once: the web process holds them on one Redis subscription, not one each.
    with ThreadPoolExecutor(20) as pool:
        answers = [pool.submit(requests.get, f"{stack.url}/api/v3/videos/{video.public_id}", params={"wait": 5},
                               headers={"X-API-Key": key}, timeout=120) for _ in range(20)]
        while _waiting(stack) < 20 and not all(a.done() for a in answers):
            time.sleep(0.05)
        subscribers = redis.Redis.from_url(django_settings.LIVE_REDIS_URL).pubsub_numsub(stack.channel)
    assert subscribers == [(stack.channel.encode(), 1)]
    for answer in answers:
        r = answer.result()
        assert r.status_code == 200 and (r.json()["status"], r.json()["progress"]) == ("pending", 0)
    r = requests.get(f"{stack.url}/api/v3/videos/sessions/{session.public_id}", params={"wait": 1},
                     headers={"X-API-Key": key}, timeout=120)
    assert r.status_code == 200 and r.json()["session"]["status"] == "running"
    assert Video.objects.get(pk=video.pk).status == "pending"


@pytest.mark.parametrize("stack", ["redis"], indirect=True)
def test_wrong_keys_other_accounts_and_bad_waits_answer_json_at_once(stack: Stack, unsent: None) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    _, key = make_key(alice)
    _, bob_key = make_key(bob)
    session = make_session(owner=alice, model=MODEL)
    video = session.videos.get()
    paths = [f"/api/v3/videos/{video.public_id}", f"/api/v3/videos/sessions/{session.public_id}"]
    for path in [*paths, f"/api/v3/videos/sessions/{session.public_id}/events", f"{paths[0]}/events"]:
        params = {} if path.endswith("/events") else {"wait": 60}
        r = requests.get(stack.url + path, params=params, headers={"X-API-Key": "mcp_wrong"}, timeout=120)
        assert r.status_code == 401 and r.json()["error"]["field"] == "X-API-Key", (path, r.text)
        r = requests.get(stack.url + path, params=params, timeout=120)
        assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key", path
        r = requests.get(stack.url + path, params=params, headers={"X-API-Key": bob_key}, timeout=120)
        assert r.status_code == 404 and r.json()["success"] is False, (path, r.text)
    for path in paths:
        for wait in ("0", "61", "soon"):
            r = requests.get(stack.url + path, params={"wait": wait}, headers={"X-API-Key": key}, timeout=120)
            assert r.status_code == 422 and r.json()["error"]["field"] == "wait", (path, wait, r.text)
    # The dashboard's stream needs a signed-in browser.
    r = requests.get(f"{stack.url}/live/events", params={"v": video.public_id}, timeout=120)
    assert r.status_code == 401 and r.json()["error"]["code"] == "login_required"


def test_a_video_event_stream_follows_the_render_to_the_end(stack: Stack) -> None:
    user = make_user("alice")
    _, key = make_key(user)
    created = _generate(stack, key)
    video_id = created["video_id"]
    url = f"{stack.url}/api/v3/videos/{video_id}/events"

    stream = requests.get(url, headers={"X-API-Key": key}, stream=True, timeout=120)
    assert stream.status_code == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    events = list(_events(stream))
    names = [name for _, name, _ in events]
    assert names[-1] == "end" and set(names[:-1]) == {"video"} and len(names) >= 2
    videos = [data for _, name, data in events if name == "video"]
    assert all(v["video_id"] == video_id and v["session_id"] == created["session_id"] for v in videos)
    assert [v["progress"] for v in videos] == sorted(v["progress"] for v in videos)  # in order
    assert len({(v["status"], v["progress"]) for v in videos}) == len(videos)  # each event shows a change
    assert videos[-1]["status"] == "completed" and videos[-1]["video_url"] and videos[-1]["progress"] == 100
    # The same object as the video endpoint (links and balance aside, which move on their own).
    detail = requests.get(f"{stack.url}/api/v3/videos/{video_id}", headers={"X-API-Key": key}, timeout=60).json()
    skip = {"success", "video_url", "thumbnail_url", "last_frame_url", "remaining_credits"}
    assert {k: v for k, v in videos[-1].items() if k not in skip} == {
        k: v for k, v in detail.items() if k not in skip}
    assert all(event_id for event_id, name, _ in events if name == "video")
    last_id = next(event_id for event_id, _, _ in reversed(events) if event_id)

    # Reconnecting with the last id: nothing changed since, so no snapshot, just the end.
    again = requests.get(url, headers={"X-API-Key": key, "Last-Event-ID": last_id}, stream=True, timeout=120)
    assert [name for _, name, _ in _events(again)] == ["end"]
    fresh = list(_events(requests.get(url, headers={"X-API-Key": key}, stream=True, timeout=120)))
    assert [name for _, name, _ in fresh] == ["video", "end"] and fresh[0][2]["status"] == "completed"


def _scrape(stack: Stack) -> dict[tuple[str, str], float]:
    """{(metric name, labels text): value} of the server's /metrics."""
    out = {}
    for line in requests.get(f"{stack.url}/metrics", timeout=60).text.splitlines():
        if match := re.match(r"^(mcphub_http_\w+)\{([^}]*)\}\s+([\d.e+-]+)$", line):
            out[(match.group(1), match.group(2))] = float(match.group(3))
    return out


def _value(scraped: dict[tuple[str, str], float], name: str, **labels: str) -> float:
    return sum(v for (n, text), v in scraped.items()
               if n == name and all(f'{k}="{want}"' in text for k, want in labels.items()))


@pytest.mark.parametrize("stack", ["redis"], indirect=True)
def test_streams_and_long_polls_count_once_in_the_http_metrics(stack: Stack, unsent: None) -> None:
    user = make_user("alice")
    _, key = make_key(user)
    session = make_session(owner=user, model=MODEL)  # made here, no task sent: nothing will change it
    video = session.videos.get()
    headers = {"X-API-Key": key}
    one = "api/v3/videos/<video_id>"
    before = _scrape(stack)

    url = f"{stack.url}/api/v3/videos/{video.public_id}"
    first = requests.get(url, params={"wait": 1}, headers=headers, timeout=120)
    assert first.status_code == 200  # after the 1 s it waited for a change; none came
    conditional = {**headers, "If-None-Match": first.headers["ETag"]}
    assert requests.get(url, params={"wait": 1}, headers=conditional, timeout=120).status_code == 304  # the same
    assert requests.get(url, headers=headers, timeout=60).status_code == 200  # a plain GET
    for path in (f"/api/v3/videos/{video.public_id}/events", f"/api/v3/videos/sessions/{session.public_id}/events"):
        with requests.get(stack.url + path, headers=headers, stream=True, timeout=120) as stream:
            assert stream.status_code == 200
            next(_events(stream))  # the snapshot; then the client goes (the video stays queued)
    r = requests.get(f"{stack.url}/api/v3/videos/nope/events", headers=headers, timeout=60)
    assert r.status_code == 404 and r.json()["error"]["field"] == "video_id"

    after = _scrape(stack)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    total = "mcphub_http_requests_total"
    assert grew(total, route=one, status="200") == 2  # the long-poll and the plain GET: once each
    assert grew(total, route=one, status="304") == 1
    assert grew(total, route=f"{one}/events", status="200") == 1
    assert grew(total, route=f"{one}/events", status="404") == 1
    assert grew(total, route="api/v3/videos/sessions/<session_id>/events", status="200") == 1
    # The long-polls' whole wait is their duration (at least the 1 s each waited), not the view's.
    latency = "mcphub_http_request_duration_seconds"
    assert grew(f"{latency}_count", route=one) == 3
    assert grew(f"{latency}_sum", route=one) >= 2.0
    assert grew(f"{latency}_bucket", route=one, le="0.5") <= 1  # only the plain GET can be that quick
