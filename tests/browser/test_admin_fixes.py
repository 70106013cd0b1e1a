"""The operators' admin in headless Chromium at 1366 px: find a stuck video, fail and refund it, follow its links."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from billing import services as billing
from tests.factories import make_session, make_user
from videos.catalog import catalog_sync
from videos.models import Video, VideoModel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def alice(transactional_db: None) -> User:
    catalog_sync(VideoModel)
    return make_user("alice", credits=1000)


def _admin_login(page: Any) -> None:
    User.objects.create_superuser("op", "op@example.com", "pw-for-tests-1")
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("op")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")


def test_fail_and_refund_a_stuck_video_and_follow_its_links(page: Any, alice: User, no_broker: list[int]):
    long_prompt = "A very long prompt about a harbour at dawn with fishing boats, gulls and mist " * 4
    stuck = make_session(owner=alice, prompt=long_prompt).videos.get()
    Video.objects.filter(pk=stuck.pk).update(status=Video.Status.PROCESSING, vendor_task_id="luma-task-" + "x" * 60,
                                             updated_at=timezone.now() - timedelta(minutes=50),
                                             error="The vendor has not answered for a long time " * 3)
    for _ in range(3):
        make_session(owner=alice, prompt="A fresh one")
    page.set_viewport_size(LAPTOP)
    _admin_login(page)
    page.goto("/admin/videos/video/")
    page.get_by_role("link", name="30 minutes").click()
    page.wait_for_url("**stuck=30*")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and stuck.public_id in rows.first.inner_text()
    # Wide rows stay readable: the table fits beside the filters, nothing pushed off the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    box = page.evaluate("(() => { const r = document.querySelector('#changelist .results');"
                        " return [r.scrollWidth, r.clientWidth]; })()")
    assert box[0] <= box[1]  # every column on screen, none hidden behind a scrollbar
    page.screenshot(path="/tmp/shots/40-admin-stuck-1366.png", full_page=True)
    rows.first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("fail_and_refund")
    page.get_by_role("button", name="Go").click()
    assert "1 video(s) failed and refunded" in page.locator(".messagelist").inner_text()
    stuck.refresh_from_db()
    assert stuck.status == Video.Status.FAILED and billing.credit_balance(user=alice) == 940
    page.goto(f"/admin/videos/video/{stuck.pk}/change/")
    assert page.locator("input[name=_save]").count() == 0
    page.screenshot(path="/tmp/shots/41-admin-video-1366.png", full_page=True)
    page.get_by_role("link", name="its ledger rows").click()
    ledger = page.locator("#result_list tbody")
    assert ledger.locator("tr").count() == 2  # the charge and its refund
    page.screenshot(path="/tmp/shots/42-admin-ledger-1366.png", full_page=True)
    box = page.evaluate("(() => { const r = document.querySelector('#changelist .results');"
                        " return [r.scrollWidth, r.clientWidth]; })()")
    assert box[0] <= box[1]
    ledger.get_by_role("link", name=stuck.public_id).first.click()
    assert stuck.public_id in page.locator("#result_list").inner_text()
    page.goto("/admin/billing/creditaccount/")
    page.get_by_role("link", name="alice").first.click()
    assert page.locator("input[name=_save]").count() == 0
    page.screenshot(path="/tmp/shots/43-admin-account-1366.png", full_page=True)
