"""Cheap polls: every GET answers an ETag and a 304 to it (no body), polls of unfinished work say when to come
back (Retry-After), and the poll path reads a constant number of queries and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import services as billing
from tests.factories import make_key, make_session
from videos import lifecycle
from videos.models import GenerationSession, Video
from videos.services.schedule import session_tick
from videos.services.work import video_start
from webhooks import services as webhooks

pytestmark = pytest.mark.django_db
Stage = Video.Stage


def _get(client: Client, key: str, path: str, etag: str | None = None) -> object:
    headers = {"X-API-Key": key}
    if etag is not None:
        headers["If-None-Match"] = etag
    return client.get(path, headers=headers)


@pytest.fixture
def world(alice):
    key = make_key(alice)[1]
    session = make_session(owner=alice)
    endpoint = webhooks.endpoint_create(user=alice, url="https://hooks.example.com/in", events=None, description="")
    return {"key": key, "session": session, "video": session.videos.get(), "endpoint": endpoint}


def _paths(world) -> list[str]:
    s, v, e = world["session"].public_id, world["video"].public_id, world["endpoint"].public_id
    return [f"/api/v3/videos/sessions/{s}", f"/api/v3/videos/sessions/{s}?page=1&page_size=5",
            f"/api/v3/videos/{v}", "/api/v3/videos/sessions", "/api/v3/videos/history?status=pending",
            "/api/v3/credits", "/api/v3/media-pricing/models", "/api/v3/webhooks", "/api/v3/webhooks/secret",
            f"/api/v3/webhooks/{e}", f"/api/v3/webhooks/{e}/deliveries"]


def test_every_get_answers_its_etag_with_a_304_without_a_body(world) -> None:
    client = Client()
    for path in _paths(world):
        first = _get(client, world["key"], path)
        assert first.status_code == 200, (path, first.content)
        tag = first["ETag"]
        assert tag.startswith('W/"') and tag.endswith('"') and len(tag) > 10, path
        again = _get(client, world["key"], path, tag)
        assert again.status_code == 304 and again.content == b"" and again["ETag"] == tag, path
        assert "Content-Type" not in again, path
        # Weak comparison (a strong tag of the same value matches), lists, and `*` for "any current one".
        assert _get(client, world["key"], path, tag[2:]).status_code == 304, path
        assert _get(client, world["key"], path, f'"nope", W/"stale" , {tag}').status_code == 304, path
        assert _get(client, world["key"], path, "*").status_code == 304, path
        stale = _get(client, world["key"], path, 'W/"stale"')
        assert stale.status_code == 200 and stale.json() == first.json() and stale["ETag"] == tag, path


def test_tags_are_per_url_and_per_account(world, bob) -> None:
    client = Client()
    s = world["session"].public_id
    tag = _get(client, world["key"], f"/api/v3/videos/sessions/{s}")["ETag"]
    other_page = _get(client, world["key"], f"/api/v3/videos/sessions/{s}?page_size=10", tag)
    assert other_page.status_code == 200 and other_page["ETag"] != tag
    # Someone else's id is a 404 whatever the tag says, `*` included.
    stranger = make_key(bob)[1]
    assert _get(client, stranger, f"/api/v3/videos/sessions/{s}", tag).status_code == 404
    assert _get(client, stranger, f"/api/v3/videos/sessions/{s}", "*").status_code == 404
    assert _get(client, world["key"], "/api/v3/videos/sessions/vs_nosuch", "*").status_code == 404


def test_the_session_poll_tag_moves_with_every_change_a_client_can_see(alice) -> None:
    key = make_key(alice)[1]
    session = make_session(owner=alice, timed=True, max_videos=3, interval_seconds=60)
    video = session.videos.get()
    path = f"/api/v3/videos/sessions/{session.public_id}"
    client = Client()
    seen: list[str] = []

    def changed(what: str) -> dict:
        tag = seen[-1]
        r = _get(client, key, path, tag)
        assert r.status_code == 200, what  # the tag held is stale: the new state comes back
        assert r["ETag"] != tag and r["ETag"] not in seen, what
        seen.append(r["ETag"])
        assert _get(client, key, path, r["ETag"]).status_code == 304, what
        return r.json()

    seen.append(_get(client, key, path)["ETag"])
    owner = lifecycle.new_owner()
    assert lifecycle.claim(Video.objects.get(pk=video.pk), Stage.RENDERING, frm=(Stage.QUEUED,), owner=owner)
    assert changed("status")["videos"][0]["status"] == "processing"
    assert lifecycle.lease_renew(video.pk, owner=owner, progress=40)
    assert changed("progress")["videos"][0]["progress"] == 40
    billing.credits_grant(user=alice, amount=Decimal(5), key="t-grant-more")
    assert changed("credits")["videos"][0]["remaining_credits"] == float(billing.credit_balance(user=alice))
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    session_tick(session.pk)
    body = changed("new video")
    assert body["pagination"]["total_count"] == 2 and len(body["videos"]) == 2
    Video.objects.filter(pk=video.pk).update(lease_owner="", lease_until=None, stage=Stage.QUEUED,
                                             status=Video.Status.PENDING, updated_at=timezone.now())
    seen.append(_get(client, key, path)["ETag"])
    video_start(video.pk)  # renders locally and stores the file
    body = changed("file ready")
    first = next(v for v in body["videos"] if v["video_id"] == video.public_id)
    assert first["status"] == "completed" and first["video_url"] and body["session"]["completed_videos"] == 1


def test_retry_after_hints_unfinished_work_and_not_final(alice) -> None:
    key = make_key(alice)[1]
    session = make_session(owner=alice)
    video = session.videos.get()
    client = Client()
    for path in (f"/api/v3/videos/sessions/{session.public_id}", f"/api/v3/videos/{video.public_id}"):
        queued = _get(client, key, path)
        assert queued["Retry-After"] == "5", path  # waiting for a worker or a vendor slot
        assert _get(client, key, path, queued["ETag"])["Retry-After"] == "5", path  # the 304 says it too
    Video.objects.filter(pk=video.pk).update(stage=Stage.SUBMITTED, status=Video.Status.PROCESSING,
                                             next_poll_at=timezone.now() + timedelta(seconds=12),
                                             updated_at=timezone.now())
    hint = int(_get(client, key, f"/api/v3/videos/{video.public_id}")["Retry-After"])
    assert 10 <= hint <= 12  # a vendor job: until its next poll
    Video.objects.filter(pk=video.pk).update(stage=Stage.QUEUED, status=Video.Status.PENDING, next_poll_at=None)
    video_start(video.pk)
    for path in (f"/api/v3/videos/sessions/{session.public_id}", f"/api/v3/videos/{video.public_id}",
                 "/api/v3/credits", "/api/v3/videos/history"):
        done = _get(client, key, path)
        assert done.status_code == 200 and "Retry-After" not in done, path
        assert "Retry-After" not in _get(client, key, path, done["ETag"]), path


def _session_with(alice, n: int) -> GenerationSession:
    session = make_session(owner=alice, prompt=f"{n} videos")
    first = session.videos.get()
    extra = []
    for sequence in range(1, n):
        clone = Video.objects.get(pk=first.pk)
        clone.pk = clone.id = None
        clone.public_id = f"{first.public_id[:20]}{sequence:04d}"
        clone.sequence = sequence
        clone.stage, clone.status, clone.file = Stage.DONE, Video.Status.COMPLETED, f"videos/{sequence}.mp4"
        clone.thumbnail, clone.last_frame = f"videos/{sequence}.jpg", f"videos/{sequence}-last.jpg"
        extra.append(clone)
    Video.objects.bulk_create(extra)
    return session


def _poll(client: Client, key: str, path: str, etag: str | None = None) -> tuple[object, list[str]]:
    _get(client, key, path)  # warm: the first request of a key may write last_used_at (once a minute)
    with CaptureQueriesContext(connection) as queries:
        r = _get(client, key, path, etag)
    return r, [q["sql"] for q in queries.captured_queries]


def test_the_poll_reads_a_constant_number_of_queries_and_writes_nothing(alice) -> None:
    key = make_key(alice)[1]
    client = Client()
    counts = {}
    for n in (1, 50):
        session = _session_with(alice, n)
        last = session.videos.order_by("-sequence").first()
        for what, path in (("sessions", f"/api/v3/videos/sessions/{session.public_id}?page_size=100"),
                           ("videos", f"/api/v3/videos/{last.public_id}")):
            r, sql = _poll(client, key, path)
            assert r.status_code == 200
            counts[(n, what)] = len(sql)
            assert not [q for q in sql if not q.lstrip().upper().startswith("SELECT")], sql  # no write at all
            if what == "sessions":
                assert len(r.json()["videos"]) == n
                page = [q for q in sql if "videos_video" in q and "LIMIT" in q and "model_slug" in q]
                assert len(page) == 1 and "videos_generationsession" not in page[0]  # no session per row
                assert "display_name" not in page[0] and "m.*" not in page[0]  # nor the model's whole row
                assert not [q for q in sql if q.lstrip().upper().startswith("SELECT COUNT(")]  # counted once
            not_modified, sql = _poll(client, key, path, r["ETag"])
            # The key, the version, and (a session page holding a queued video) that video's place in its queue.
            assert not_modified.status_code == 304 and len(sql) == (3 if what == "sessions" else 2), sql
    assert counts[(1, "sessions")] == counts[(50, "sessions")] == 5  # and the session, the page
    assert counts[(1, "videos")] == counts[(50, "videos")] == 3


def test_a_key_is_marked_used_at_most_once_a_minute(alice) -> None:
    key_row, key = make_key(alice)
    client = Client()
    path = "/api/v3/credits"
    r, sql = _poll(client, key, path)  # the warm-up wrote last_used_at
    key_row.refresh_from_db()
    assert key_row.last_used_at is not None and not [q for q in sql if q.startswith("UPDATE")]
    type(key_row).objects.filter(pk=key_row.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    with CaptureQueriesContext(connection) as queries:
        _get(client, key, path)
    assert len([q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]) == 1
    key_row.refresh_from_db()
    assert timezone.now() - key_row.last_used_at < timedelta(minutes=1)


def test_openai_retrieve_and_list_are_conditional_too(alice) -> None:
    key = make_key(alice)[1]
    video = make_session(owner=alice).videos.get()
    client = Client()
    for path in (f"/v1/videos/{video.public_id}", "/v1/videos?limit=5"):
        first = client.get(path, headers={"Authorization": f"Bearer {key}"})
        assert first.status_code == 200 and first["ETag"].startswith('W/"'), path
        again = client.get(path, headers={"Authorization": f"Bearer {key}", "If-None-Match": first["ETag"]})
        assert again.status_code == 304 and again.content == b"", path
    Video.objects.filter(pk=video.pk).update(progress=30, updated_at=timezone.now())
    moved = client.get(f"/v1/videos/{video.public_id}",
                       headers={"Authorization": f"Bearer {key}", "If-None-Match": first["ETag"]})
    assert moved.status_code == 200


def test_a_first_page_that_is_not_full_needs_no_count(alice) -> None:
    key = make_key(alice)[1]
    for _ in range(3):
        make_session(owner=alice)
    r, sql = _poll(Client(), key, "/api/v3/videos/history?page_size=10")
    assert r.json()["pagination"]["total_count"] == 3
    assert not [q for q in sql if q.lstrip().upper().startswith("SELECT COUNT(*) FROM")]
    r = _get(Client(), key, "/api/v3/videos/history?page_size=2")
    assert r.json()["pagination"] == {"page": 1, "page_size": 2, "total_count": 3, "total_pages": 2,
                                      "has_next": True, "has_previous": False}
