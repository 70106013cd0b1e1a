"""Through a real Celery worker: making a video delivers signed video.* and session.* events to a real receiver."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import celery_worker_process, worker_concurrency  # noqa: F401 - the shared worker fixtures
from tests.factories import make_key, make_user
from webhooks.models import Delivery

pytestmark = pytest.mark.worker


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {"IMAGE_FETCH_ALLOW_HOSTS": "127.0.0.1", "WEBHOOK_TIMEOUT": "5"}


def test_making_a_video_delivers_its_events(receiver: Any, celery_worker_process: str) -> None:  # noqa: F811
    user = make_user("hooked", credits=500)
    api = f"{celery_worker_process}/api/v3"
    headers = {"X-API-Key": make_key(user)[1]}
    created = requests.post(f"{api}/webhooks", headers=headers, json={"url": receiver.url}).json()
    default_secret = requests.get(f"{api}/webhooks/secret", headers=headers).json()["secret"]
    r = requests.post(f"{api}/videos/generate", headers=headers, json={
        "prompt": "A paper boat on a calm lake", "model": "luma-ray-2.0-flash-5s-t2v", "width": 320, "height": 180,
        "callback_url": receiver.url + "?from=callback"})
    assert r.status_code == 201, r.text
    video_id = r.json()["video_id"]

    # Endpoint and callback each get video.processing, video.completed and session.completed.
    received = receiver.wait_for(6, timeout=180)
    events: dict[str, set[str]] = {"/hooks": set(), "/hooks?from=callback": set()}
    for request in received:
        secret = default_secret if request.path.endswith("callback") else created["secret"]
        body = Webhook(secret).verify(request.body, request.headers)
        events[request.path].add(body["type"])
        if body["type"] == "video.completed":
            assert body["data"]["video_id"] == video_id and body["data"]["status"] == "completed"
            completed = body["data"]
    want = {"video.processing", "video.completed", "session.completed"}
    assert events == {"/hooks": want, "/hooks?from=callback": want}
    assert requests.get(completed["video_url"]).content[4:8] == b"ftyp"  # the payload's link is the MP4
    deadline = time.monotonic() + 60
    while Delivery.objects.exclude(status="succeeded").exists():
        assert time.monotonic() < deadline, list(Delivery.objects.values("status", "last_error"))
        time.sleep(0.2)
    log = requests.get(f"{api}/webhooks/{created['id']}/deliveries", headers=headers).json()["deliveries"]
    assert {d["event"] for d in log} == want
    assert all(d["attempts"][0]["status_code"] == 200 for d in log)
    assert json.loads(received[0].body)["data"]  # each body is the object as the API returns it
