"""Costs before spending and control over running work, in headless Chromium against the live server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import av
import pytest
from django.contrib.auth.models import User
from django.db import connection

from billing.models import CreditEntry
from tests.browser.conftest import shoot, sign_in
from tests.factories import make_key, make_session, make_user
from videos import services
from videos.catalog import catalog_sync
from videos.models import Video, VideoModel
from videos.tasks import video_start_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def alice(transactional_db: None) -> User:
    catalog_sync(VideoModel)
    return make_user("alice", credits=1000)


def _total(page: Any) -> str:
    return page.locator("#quote-total").get_attribute("data-credits")


def test_the_price_follows_duration_and_mode(page: Any, alice: User, no_broker: list[int]):
    sign_in(page)
    page.get_by_label("Model", exact=True).select_option("luma-ray-2.0-flash")
    page.wait_for_function("document.querySelector('#quote-total').dataset.credits === '20.00'")
    page.get_by_label("Duration", exact=True).select_option("9")
    page.wait_for_function("document.querySelector('#quote-total').dataset.credits === '36.00'")
    assert "9 s video" in page.locator("#price-quote").inner_text()
    page.get_by_label("Session (several videos)").check()
    page.get_by_label("Max videos").fill("4")
    page.wait_for_function("document.querySelector('#quote-total').dataset.credits === '144.00'")
    assert "at most 4 videos" in page.locator("#price-quote").inner_text()
    shoot(page, "20-try-quote-session")
    # Another model: its price, for the same session size.
    page.get_by_label("Model", exact=True).select_option("wan-v2-5-preview")
    page.wait_for_function("document.querySelector('#quote-total').dataset.credits === '240.00'")
    # And the charge is the quoted price.
    page.get_by_label("One video").check()
    page.get_by_label("Duration", exact=True).select_option("10")
    page.wait_for_function("document.querySelector('#quote-total').dataset.credits === '120.00'")
    page.get_by_label("Prompt", exact=True).fill("A lighthouse in a storm")
    page.get_by_role("button", name="Generate").click()
    page.locator("#results article.card").first.wait_for()
    charge = CreditEntry.objects.get(account__user=alice, kind=CreditEntry.Kind.CHARGE)
    assert str(-charge.delta) == "120.00"
    # The form remembers the model on the next visit.
    page.goto("/")
    assert page.get_by_label("Model", exact=True).input_value() == "wan-v2-5-preview"


def test_new_session_opens_try_in_session_mode(page: Any, alice: User):
    sign_in(page)
    page.goto("/sessions/")
    page.get_by_role("link", name="New session").click()
    assert page.get_by_label("Session (several videos)").is_checked()
    assert page.get_by_label("Max videos").is_visible()


def test_cancel_a_running_video_and_see_the_refund(page: Any, alice: User, no_broker: list[int]):
    sign_in(page)
    page.get_by_label("Model", exact=True).select_option("luma-ray-2.0-flash-5s-t2v")
    page.get_by_label("Prompt", exact=True).fill("A slow sunrise over the dunes")
    page.get_by_role("button", name="Generate").click()
    card = page.locator("#results article.card").first
    card.wait_for()
    video = Video.objects.get(owner=alice)
    Video.objects.filter(pk=video.pk).update(status=Video.Status.PROCESSING, progress=40)  # a worker took it
    page.locator(f"#card-{video.public_id}[data-status=processing]").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#card-{video.public_id}").get_by_role("button", name="Cancel").click()
    page.locator(f"#card-{video.public_id}[data-status=failed]").wait_for()
    text = page.locator(f"#card-{video.public_id}").inner_text()
    assert "Cancelled" in text and "20.00 credits refunded" in text
    page.wait_for_function("document.querySelector('#balance').textContent === '1,000.00'")  # the form's too
    shoot(page, "21-try-cancelled")
    page.goto("/credits/")
    assert page.locator("#credit-balance").inner_text() == "1,000.00"
    assert "Refund" in page.locator("#ledger tbody tr").first.inner_text()


def test_retry_a_failed_video(page: Any, alice: User, no_broker: list[int]):
    video = make_session(owner=alice, model="luma-ray-2.0-flash", duration=9, seed=11).videos.get()
    services.video_fail(video.pk, error="The vendor refused the job.", code="vendor_error")
    sign_in(page)
    page.goto(f"/videos/{video.public_id}/")
    assert "36.00 credits refunded" in page.locator(".card").inner_text()
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(lambda url: video.public_id not in url)
    new = Video.objects.exclude(pk=video.pk).get(owner=alice)
    assert page.url.endswith(f"/videos/{new.public_id}/")
    assert (new.duration, new.params["seed"], new.status) == (9, 11, Video.Status.PENDING)
    assert "a new video is on its way" in page.locator(".messages").inner_text()
    assert no_broker[-1] == new.pk  # enqueued for a worker
    shoot(page, "22-video-retried")


def test_copy_as_code_gives_a_curl_command_that_works(page: Any, alice: User, live_server: Any,
                                                       no_broker: list[int]):
    video = make_session(owner=alice, model="luma-ray-2.0-flash", duration=9, aspect_ratio="9:16", seed=3,
                         prompt="Rain on a window, it's cosy").videos.get()
    _, raw_key = make_key(alice)
    sign_in(page)
    page.goto(f"/videos/{video.public_id}/")
    page.locator("#code").scroll_into_view_if_needed()
    shoot(page, "23-video-copy-as-code")
    page.get_by_role("button", name="Copy").first.click()
    command = page.evaluate("document.querySelector('#code-curl').textContent.trim()")  # what Copy copies
    env = {"PATH": os.environ["PATH"], "MCPHUB_API_KEY": raw_key}
    result = subprocess.run(["bash", "-c", command], check=False, capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["success"] is True and answer["status"] == "pending"
    new = Video.objects.get(public_id=answer["video_id"])
    assert (new.model.model_id, new.duration, new.aspect_ratio, new.params["seed"], new.prompt) == (
        "luma-ray-2.0-flash", 9, "9:16", 3, "Rain on a window, it's cosy")
    for name in ("python", "cli"):
        page.locator("summary", has_text="Python" if name == "python" else "CLI").click()
        assert page.locator(f"#code-{name}").is_visible()
    assert "mcpvideo generate --model luma-ray-2.0-flash" in page.locator("#code-cli").inner_text()


# The CLI as `make test` installs it (pip install -e ./client), beside this interpreter: bin/ need not be on PATH.
BIN = str(Path(sys.executable).parent)


@pytest.mark.skipif(shutil.which("mcpvideo", path=BIN + os.pathsep + os.environ.get("PATH", "")) is None,
                    reason="the mcpvideo CLI (pip install ./client) is not installed")
def test_copy_as_code_gives_a_cli_line_that_makes_the_video(page: Any, alice: User, live_server: Any,
                                                            no_broker: list[int], tmp_path: Path):
    video = make_session(owner=alice, model="luma-ray-2.0-flash", duration=5, resolution="540p", seed=8,
                         prompt="Fog rolling over hills").videos.get()
    _, raw_key = make_key(alice)
    sign_in(page)
    page.goto(f"/videos/{video.public_id}/")
    page.locator("summary", has_text="CLI").click()
    command = page.evaluate("document.querySelector('#code-cli').textContent.trim()")
    stop = threading.Event()

    def worker() -> None:  # renders whatever the CLI asks for, as a Celery worker would
        try:
            while not stop.is_set():
                for pk in Video.objects.filter(status=Video.Status.PENDING).exclude(pk=video.pk).values_list(
                        "pk", flat=True):
                    video_start_task(pk)
                time.sleep(0.2)
        finally:
            connection.close()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    env = {"PATH": BIN + os.pathsep + os.environ["PATH"], "MCPHUB_API_KEY": raw_key, "MCPHUB_BASE_URL": live_server.url}
    try:
        result = subprocess.run(["bash", "-c", command], check=False, capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=300)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result.returncode == 0, result.stderr
    new = Video.objects.exclude(pk=video.pk).get(owner=alice)
    assert (new.duration, new.resolution, new.params["seed"], new.status) == (5, "540p", 8, "completed")
    with av.open(str(tmp_path / f"{video.public_id}.mp4")) as container:
        assert container.streams.video[0].frames > 0
        assert container.metadata["comment"].startswith("SIMULATED")  # a simulated video says so
