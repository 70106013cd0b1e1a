"""The Webhooks page in headless Chromium: add an endpoint, see its secret once, read the log, redeliver."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.browser.conftest import PHONE, SCREENS, sign_in
from tests.factories import make_session, make_user
from tests.webhooks.conftest import enqueued, receiver  # noqa: F401 - the real receiver on 127.0.0.1
from videos import services as video_services
from videos.catalog import catalog_sync
from videos.models import VideoModel
from webhooks import services
from webhooks.models import Delivery, Endpoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def alice(transactional_db: None) -> User:
    catalog_sync(VideoModel)
    return make_user("alice", credits=1000)


def _shoot(page: Any, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(WIDE)
    page.screenshot(path=str(SCREENS / f"{name}-1366.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SCREENS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(WIDE)


def test_add_an_endpoint_see_the_secret_once_and_redeliver(page: Any, alice: User, receiver: Any,  # noqa: F811
                                                           enqueued: list[int], no_broker: list[int]) -> None:  # noqa: F811
    page.set_viewport_size(WIDE)
    sign_in(page)
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("Description").fill("order service")
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#new-secret")
    secret.wait_for()
    endpoint = Endpoint.objects.get(owner=alice)
    assert secret.inner_text() == endpoint.secret
    assert endpoint.events == ["video.processing", "video.completed", "video.failed", "session.completed",
                               "session.stopped", "session.error"]
    _shoot(page, "webhooks-01-secret-once")
    page.reload()
    assert page.locator("#new-secret").count() == 0 and endpoint.secret not in page.content()

    receiver.reply(500, b"upstream unavailable")
    session = make_session(owner=alice)
    video_services.video_fail(session.videos.get().pk, error="The vendor refused the prompt.")  # commits: emits
    video_delivery = Delivery.objects.get(message__event="video.failed")
    services.delivery_attempt(video_delivery.pk)
    services.delivery_attempt(Delivery.objects.get(message__event="session.error").pk)

    page.get_by_role("link", name=receiver.url).click()
    row = page.locator(f"#delivery-{video_delivery.public_id}")
    row.wait_for()
    assert row.get_attribute("data-status") == "pending"
    row.get_by_text("1 attempt").click()
    assert "HTTP 500" in row.inner_text() and "upstream unavailable" in row.inner_text()
    _shoot(page, "webhooks-02-log")
    row.get_by_role("button", name="Redeliver").click()
    page.get_by_text("Redelivered: HTTP 200").wait_for()
    assert page.locator(f"#delivery-{video_delivery.public_id}").get_attribute("data-status") == "succeeded"
    assert len(receiver.requests) == 3
    _shoot(page, "webhooks-03-redelivered")
