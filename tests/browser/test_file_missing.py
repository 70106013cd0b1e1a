"""A completed video whose file is gone, in headless Chromium: its card says so (no spinner, no player, no
Download) on the history and detail pages, at desktop and phone widths."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage

from tests.browser.conftest import PHONE, shoot, sign_in
from tests.factories import make_session, make_user
from videos.catalog import catalog_sync
from videos.models import Video, VideoModel
from videos.services import video_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def alice(transactional_db: None) -> User:
    catalog_sync(VideoModel)  # a transactional test may run after another one flushed the tables
    return make_user("alice", credits=1000)


def test_a_completed_video_whose_file_is_gone_shows_file_unavailable(page: Any, alice: User, no_broker: list[int]):
    made = []
    for prompt in ("A lighthouse at dusk, waves against the rocks", "A red kite over a green hill"):
        video = make_session(owner=alice, prompt=prompt, width=320, height=180).videos.get()
        video_start(video.pk)  # what the worker does: render, store
        video.refresh_from_db()
        assert video.status == "completed"
        made.append(video)
    gone, kept = made
    default_storage.delete(gone.file)  # lost from storage; the row still names it

    sign_in(page)
    page.goto("/videos/")
    card = page.locator(f"#card-{gone.public_id}")
    card.wait_for()
    assert card.get_attribute("data-file") == "missing" and card.get_attribute("hx-trigger") is None
    assert card.get_by_text("File unavailable").is_visible()
    assert card.locator(".spinner").count() == 0 and card.locator("video").count() == 0
    assert card.get_by_role("link", name="Download").count() == 0
    assert "Rendering" not in card.inner_text()
    other = page.locator(f"#card-{kept.public_id}")
    assert other.locator("video").count() == 1 and other.get_by_role("link", name="Download").count() == 1
    shoot(page, "file-missing-history")

    page.goto(f"/videos/{gone.public_id}/")
    card = page.locator(f"#card-{gone.public_id}")
    assert card.get_by_text("File unavailable").is_visible() and card.get_by_text("file missing").is_visible()
    shoot(page, "file-missing-detail")
    page.set_viewport_size(PHONE)
    assert card.get_by_text("File unavailable").is_visible()
    Video.objects.filter(pk=gone.pk).update(file="")  # the same when the row lost the name
    page.reload()
    assert page.locator(f"#card-{gone.public_id}").get_by_text("File unavailable").is_visible()
