"""`GET /api/v3/videos/{id}/events` under a plain WSGI server (pytest-django's test client): the snapshot, then
`end` once the video is final; Last-Event-ID skips the snapshot; no key, another account's video: 401, 404. The
live stream itself is served by the ASGI server (tests/e2e/test_video_events.py)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import make_key, make_session
from videos.services import video_start

pytestmark = pytest.mark.django_db


def test_a_wsgi_server_answers_the_video_stream_with_its_snapshot(alice, bob) -> None:
    key = make_key(alice)[1]
    video = make_session(owner=alice, width=320, height=180).videos.get()
    client = Client(headers={"X-API-Key": key})
    body = client.get(f"/api/v3/videos/{video.public_id}/events").content.decode()
    assert body.startswith("retry: ") and "event: video" in body and "event: end" not in body
    video_start(video.pk)
    body = client.get(f"/api/v3/videos/{video.public_id}/events").content.decode()
    assert body.count("event: video") == 1 and body.rstrip().endswith("event: end\ndata: {}")
    event_id = re.search(r"^id: (\S+)$", body, re.M).group(1)
    again = client.get(f"/api/v3/videos/{video.public_id}/events", headers={"Last-Event-ID": event_id})
    assert "event: video" not in again.content.decode() and "event: end" in again.content.decode()
    assert Client().get(f"/api/v3/videos/{video.public_id}/events").status_code == 401
    stranger = Client(headers={"X-API-Key": make_key(bob)[1]}).get(f"/api/v3/videos/{video.public_id}/events")
    assert stranger.status_code == 404 and stranger.json()["error"]["field"] == "video_id"
