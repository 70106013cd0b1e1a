"""The dashboard's one live stream per page, in headless Chromium against the production ASGI server and a real
Celery worker: a session page follows its videos from server-sent events with the cards' own polling blocked,
and with no EventSource the same page still gets there by polling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection

from tests.browser.conftest import DESKTOP, shoot
from tests.e2e.asgi import Stack, live_stack
from tests.factories import make_key, make_user

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def stack(transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[Stack]:
    if connection.vendor != "postgresql" or django_settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("needs PostgreSQL and a broker server (make test sets both)")
    from videos.catalog import catalog_sync
    from videos.models import VideoModel

    catalog_sync(VideoModel)
    with live_stack(database=connection.settings_dict, media_root=str(settings.MEDIA_ROOT), tmp_path=tmp_path,
                    secret_key=django_settings.SECRET_KEY) as stack:
        yield stack


@pytest.fixture
def context(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, base_url=stack.url)
    context.set_default_timeout(15_000)
    yield context
    context.close()


def _session(stack: Stack, key: str, videos: int) -> str:
    r = requests.post(f"{stack.url}/api/v3/videos/sessions", headers={"X-API-Key": key}, timeout=60, json={
        "prompt": "Lanterns drifting over a night harbour", "model": "luma-ray-2.0-flash-5s-t2v",
        "max_videos": videos, "interval_seconds": 10, "duration_minutes": 5})
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


def _sign_in(context: Any, stack: Stack, user: Any) -> None:
    """The server is another process with the default password hashers (not the suite's fast one): sign in
    with a session made here, as force_login does."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": stack.url}])


def _live_only(request: Any) -> bool:
    """A card's or the session panel's own poll (not one the live stream asked for)."""
    url = request.url
    polled = "/videos/vid_" in url or ("/sessions/ses_" in url and "after=" in url)
    return polled and "via=live" not in url


def test_a_session_page_follows_its_videos_from_one_live_stream(context: Any, stack: Stack) -> None:
    alice = make_user("alice", credits=1000)
    session_id = _session(stack, make_key(alice)[1], videos=2)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/live/events" in r.url else None)
    blocked: list[str] = []

    def block(route: Any) -> None:  # the elements' own polling cannot bring anything: only the stream can
        if _live_only(route.request):
            blocked.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", block)
    _sign_in(context, stack, alice)
    page.goto(f"/sessions/{session_id}/")
    page.wait_for_selector("html[data-live]")  # the stream is open: polling is off
    first = page.locator("#session-videos article.card").first
    # Progress arrives while it renders (720p: a few seconds of it), each step brought by the stream.
    page.wait_for_selector("#session-videos article.card[data-status='processing']:not([data-progress='0'])",
                           timeout=120_000)
    shoot(page, "live-01-session-rendering")

    # The second video appears (a new card from the session panel's refresh), and both play in the end.
    page.wait_for_function("document.querySelectorAll('#session-videos article.card video').length === 2",
                           timeout=180_000)
    page.wait_for_selector("#session-status .badge-completed", timeout=120_000)
    assert first.get_attribute("data-status") == "completed"
    shoot(page, "live-02-session-completed")
    assert streams and all(f"s={session_id}" in url for url in streams[:1])
    assert not errors, errors


def test_without_event_source_the_cards_still_poll_to_the_end(context: Any, stack: Stack) -> None:
    alice = make_user("alice", credits=1000)
    session_id = _session(stack, make_key(alice)[1], videos=1)
    context.add_init_script("delete window.EventSource")
    page = context.new_page()
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/live/events" in r.url else None)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if _live_only(r) else None)
    _sign_in(context, stack, alice)
    page.goto("/videos/")
    card = page.locator("#video-grid article.card").first
    card.locator("video").wait_for(timeout=180_000)
    assert card.get_attribute("data-status") == "completed"
    assert page.locator("html[data-live]").count() == 0 and streams == []
    assert polls  # it got there by its own polling
    assert session_id
