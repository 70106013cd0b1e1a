"""The poll cache through the production server (gunicorn, uvicorn workers, dashboard.asgi) on PostgreSQL and
Redis: repeated polls of a completed session are answered from the cache (its metric says so) with Django's
answer, and a change made by another process (a credit grant, a key revoked) reaches the very next poll."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection

from billing import services as billing
from tests.e2e.asgi import Stack, live_stack
from tests.factories import make_key, make_session, make_user
from videos.services.work import video_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stack(transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[Stack]:
    if connection.vendor != "postgresql" or not django_settings.FASTPOLL_REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (make test sets both)")
    if django_settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("needs a broker server (make test sets one)")
    from videos.catalog import catalog_sync
    from videos.models import VideoModel

    catalog_sync(VideoModel)
    with live_stack(database=connection.settings_dict, media_root=str(settings.MEDIA_ROOT), tmp_path=tmp_path,
                    secret_key=django_settings.SECRET_KEY) as stack:
        yield stack


def _answers(stack: Stack) -> dict[str, float]:
    text = requests.get(f"{stack.url}/metrics", timeout=60).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^mcphub_poll_cache_answers_total\{outcome="(\w+)"\}\s+([\d.e+]+)$', text, re.M)}


def _poll(stack: Stack, path: str, key: str, etag: str | None = None) -> requests.Response:
    headers = {"X-API-Key": key, **({"If-None-Match": etag} if etag else {})}
    return requests.get(f"{stack.url}{path}", headers=headers, timeout=60)


def test_settled_polls_come_from_the_cache_and_every_change_reaches_the_next_one(stack: Stack) -> None:
    user = make_user("poller", credits=100)
    session = make_session(owner=user, width=320, height=180)
    video_start(session.videos.get().pk)  # rendered here, committed: the server sees a completed session
    key_row, key = make_key(user)
    path = f"/api/v3/videos/sessions/{session.public_id}"

    first = _poll(stack, path, key)
    assert first.status_code == 200 and first.json()["session"]["status"] == "completed"
    before = _answers(stack)
    answers = [_poll(stack, path, key) for _ in range(5)]
    assert all(a.status_code == 200 and a.content == first.content for a in answers)
    assert all(a.headers["ETag"] == first.headers["ETag"] for a in answers)
    assert len({a.headers["X-Request-ID"] for a in answers}) == 5
    after = _answers(stack)
    assert after.get("hit_200", 0) - before.get("hit_200", 0) >= 3  # the first one or two start the entry

    not_modified = _poll(stack, path, key, etag=first.headers["ETag"])
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert _answers(stack).get("hit_304", 0) > before.get("hit_304", 0)

    balance = first.json()["videos"][0]["remaining_credits"]
    billing.credits_grant(user=user, amount=Decimal(5), key="e2e-grant")  # another process's write
    moved = _poll(stack, path, key, etag=first.headers["ETag"])
    assert moved.status_code == 200 and moved.json()["videos"][0]["remaining_credits"] == balance + 5

    billing.api_key_revoke(key=key_row)
    revoked = _poll(stack, path, key)
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "invalid_api_key"
