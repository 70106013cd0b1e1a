"""Headless Chromium (Debian's `chromium`) driven by Playwright, against pytest-django's live server.

Nothing here leaves 127.0.0.1: the page loads our own static files only, and Chromium runs with background
networking, component updates and sync turned off. Screenshots go to $SCREENSHOT_DIR (default /tmp/screens).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
DESKTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}
SCREENS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/screens"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop in the test thread, where the tests also use the ORM; the
    # live server runs in its own thread. Allowed for these tests only (check --deploy rejects it otherwise).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the videos the services enqueue instead of sending them to a broker: the test is the worker."""
    from videos import tasks

    started: list[int] = []
    monkeypatch.setattr(tasks.video_start_task, "delay_on_commit", lambda pk, *a, **k: started.append(pk))
    monkeypatch.setattr(tasks.session_tick_task, "apply_async", lambda *a, **k: None)
    monkeypatch.setattr(tasks.video_poll_task, "apply_async", lambda *a, **k: None)
    return started


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots at desktop and phone widths (look at them: tests/browser/README)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    # Nothing may stick out sideways on a phone (charts resize on the next frames: wait for them).
    page.wait_for_function(f"document.documentElement.scrollWidth <= {PHONE['width']}", timeout=5_000)
    page.screenshot(path=str(SCREENS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def sign_in(page: Any, username: str = "alice", password: str = "pw-for-tests-1") -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
