"""The dashboard in headless Chromium: what a user does, end to end, with screenshots of every page."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from tests.browser.conftest import shoot, sign_in
from tests.factories import make_user
from videos.catalog import catalog_sync
from videos.models import GenerationSession, Video, VideoModel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def alice(transactional_db: None) -> User:
    catalog_sync(VideoModel)  # a transactional test may run after another one flushed the tables
    return make_user("alice", credits=1000)


def _render_in_background(video_pk: int) -> threading.Thread:
    """Do what a Celery worker does with the enqueued video, while the browser keeps polling."""
    from videos.tasks import video_start_task

    def work() -> None:
        try:
            video_start_task(video_pk)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_generate_on_try_and_watch_the_card_become_a_playing_video(page: Any, alice: User, no_broker: list[int]):
    page.goto("/")
    assert "/accounts/login/" in page.url  # every page but login needs sign-in
    shoot(page, "01-login")
    sign_in(page)
    page.evaluate("window.__sameDocument = true")  # survives only if nothing reloads the page
    shoot(page, "02-try")

    with page.expect_response(lambda r: "model=luma-ray-2.0-flash-5s-t2v" in r.url):  # its inputs swap in
        page.get_by_label("Model", exact=True).select_option("luma-ray-2.0-flash-5s-t2v")
    page.get_by_label("Prompt", exact=True).fill("A paper boat drifting on a calm lake at golden hour")
    page.get_by_text("Advanced").click()
    page.get_by_label("Width (px)").fill("320")
    page.get_by_label("Height (px)").fill("180")
    page.get_by_role("button", name="Generate").click()

    card = page.locator("#results article.card").first
    card.wait_for()
    assert card.get_attribute("data-status") in {"pending", "processing"}
    assert "every 2s" in (card.get_attribute("hx-trigger") or "")
    assert page.locator("#try-form .alert-success").is_visible()
    shoot(page, "03-try-card-processing")

    video = Video.objects.get(owner=alice)
    assert no_broker == [video.pk]
    worker = _render_in_background(video.pk)

    player = page.locator(f"#card-{video.public_id} video")
    player.wait_for(timeout=120_000)
    worker.join(timeout=60)
    page.wait_for_function(
        "(id) => { const v = document.querySelector(`#card-${id} video`); return v && v.readyState >= 1 }",
        arg=video.public_id, timeout=30_000)
    duration = page.evaluate(f"document.querySelector('#card-{video.public_id} video').duration")
    assert duration > 4
    page.evaluate("(id) => { const v = document.querySelector(`#card-${id} video`); v.muted = true;"
                  " return v.play(); }", video.public_id)
    page.wait_for_function(
        "(id) => document.querySelector(`#card-${id} video`).currentTime > 0.2", arg=video.public_id)
    assert page.evaluate("window.__sameDocument") is True  # no reload
    completed = page.locator(f"#card-{video.public_id}")
    assert completed.get_attribute("hx-trigger") is None  # polling stopped at the final state
    assert completed.get_by_role("link", name="Download").is_visible()
    page.evaluate(f"document.querySelector('#card-{video.public_id} video').pause()")
    shoot(page, "04-try-card-completed")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    page.locator(f"#card-{video.public_id} video").wait_for()
    shoot(page, "05-history")

    page.goto("/credits/")
    assert page.locator("#credit-balance").inner_text() == "980.00"
    charge = page.locator("#ledger tbody tr").first
    assert "Charge" in charge.inner_text() and "-20.00" in charge.inner_text()
    assert charge.get_by_role("link").get_attribute("href") == f"/videos/{video.public_id}/"
    page.get_by_text("Add credits").click()
    shoot(page, "06-credits")

    page.goto("/pricing/")
    assert page.locator("#model-luma-ray-2\\.0-flash-5s-t2v").is_visible()
    shoot(page, "07-pricing")


def test_image_inputs_follow_the_model_and_errors_sit_by_their_field(page: Any, alice: User, no_broker: list[int]):
    sign_in(page)
    assert page.locator("input[name=head_image]").count() == 0
    page.get_by_label("Model", exact=True).select_option("wan-wan2.1-kf2v-plus-5s-480p")
    page.locator("input[name=tail_image_file]").wait_for()
    assert page.locator("input[name=head_image_file]").count() == 1
    page.get_by_label("Prompt", exact=True).fill("Day turns into night")
    page.get_by_role("button", name="Generate").click()
    error = page.locator("#id_head_image_error")
    error.wait_for()
    assert "start image" in error.inner_text()
    shoot(page, "08-try-kf2v-error")
    page.get_by_label("Model", exact=True).select_option("luma-ray-2.0-flash-5s-t2v")
    page.locator("input[name=tail_image_file]").wait_for(state="detached")
    assert not Video.objects.exists()


def test_start_stop_and_delete_a_session(page: Any, alice: User, no_broker: list[int]):
    sign_in(page)
    page.get_by_label("Prompt", exact=True).fill("Mountain landscapes at different times of day")
    page.get_by_label("Session (several videos)").check()
    page.get_by_label("Max videos").fill("3")
    page.get_by_label("Interval (seconds)").fill("10")
    page.get_by_label("Duration (minutes)").fill("5")
    page.get_by_role("button", name="Generate").click()
    page.locator("#try-form .alert-success a").first.click()

    session = GenerationSession.objects.get(owner=alice)
    page.wait_for_url(f"**/sessions/{session.public_id}/")
    status = page.locator("#session-status")
    assert "Running" in status.inner_text() and "every 3s" in status.get_attribute("hx-trigger")
    assert page.locator("#session-videos article.card").count() == 1
    shoot(page, "09-session-running")

    page.get_by_role("button", name="Stop session").click()
    page.locator("#session-status .badge-stopped").wait_for()
    assert status.get_attribute("hx-trigger") is None
    session.refresh_from_db()
    assert session.status == GenerationSession.Status.STOPPED
    shoot(page, "10-session-stopped")

    page.goto("/sessions/")
    assert session.public_id in page.locator("#session-list").inner_text()
    page.get_by_label("Status", exact=True).select_option("running")
    page.locator("#session-list .empty").wait_for()
    page.get_by_label("Status", exact=True).select_option("")
    page.locator(f"#session-list >> text={session.public_id}").wait_for()
    shoot(page, "11-sessions")

    page.goto(f"/sessions/{session.public_id}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("link", name="Delete session").click()
    page.wait_for_url("**/sessions/")
    assert "deleted" in page.locator(".messages").inner_text()
    assert not GenerationSession.objects.exists()


def test_create_and_revoke_an_api_key(page: Any, alice: User):
    sign_in(page)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name", exact=True).fill("laptop")
    page.get_by_role("button", name="Create key").click()
    raw = page.locator("#new-key").inner_text()
    assert raw.startswith("mcp_")
    page.get_by_role("button", name="Copy").click()
    shoot(page, "12-api-key-created")

    from billing import services

    assert services.api_key_authenticate(raw) is not None
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke key laptop").click()
    page.locator(".badge-revoked").wait_for()
    assert page.locator("#new-key").count() == 0  # shown once
    assert services.api_key_authenticate(raw) is None
    shoot(page, "13-api-keys-revoked")


def test_operator_admin_pages(page: Any, alice: User):
    User.objects.create_superuser("op", "op@example.com", "pw-for-tests-1")
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("op")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.goto("/admin/videos/videomodel/")
    assert page.locator("input[name=form-0-credits]").is_visible()
    shoot(page, "14-admin-catalog")
    page.goto("/admin/billing/creditaccount/")
    shoot(page, "15-admin-credit-accounts")
