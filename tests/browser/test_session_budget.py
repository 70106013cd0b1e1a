"""Start a session with a budget from the dashboard and see it stop at the budget (headless Chromium)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from billing.models import CreditEntry
from tests.browser.conftest import shoot, sign_in
from tests.factories import make_user
from videos import services
from videos.catalog import catalog_sync
from videos.models import GenerationSession, Video, VideoModel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def alice(transactional_db: None) -> User:
    catalog_sync(VideoModel)
    return make_user("alice", credits=1000)


def _tick_due(session: GenerationSession) -> None:
    """The worker's part: the next video is due; the videos made so far have finished."""
    Video.objects.filter(session=session).update(status=Video.Status.COMPLETED, progress=100)
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    services.session_tick(session.pk)


def test_a_session_with_a_budget_stops_when_it_is_reached(page: Any, alice: User, no_broker: list[int]):
    sign_in(page)
    page.get_by_label("Model", exact=True).select_option("luma-ray-2.0-flash-5s-t2v")  # 20 credits a video
    page.get_by_label("Session (several videos)").check()
    page.get_by_label("Max videos").fill("5")
    page.get_by_label("Interval (seconds)").fill("10")
    page.get_by_label("Budget (credits)").fill("45")
    # The maximum spend follows the budget: two videos of 20 fit in 45, not five.
    page.wait_for_function("document.querySelector('#quote-total').dataset.credits === '40.00'")
    assert "at most 2 videos" in page.locator("#price-quote").inner_text()
    assert "Budget: 45.00 credits" in page.locator("#quote-budget").inner_text()
    shoot(page, "30-try-session-budget")
    page.get_by_label("Prompt", exact=True).fill("Clouds rolling over a mountain ridge")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("() => !!document.querySelector('#results article.card, #results a[href*=\"ses_\"]')")
    session = GenerationSession.objects.get(owner=alice)
    assert session.budget_credits == Decimal("45.00")

    page.goto(f"/sessions/{session.public_id}/")
    assert page.locator("#session-budget").inner_text() == "45.00"
    assert page.locator("#max-spend").inner_text() == "40.00"
    _tick_due(session)  # the second video: 40 of 45
    _tick_due(session)  # a third would make 60: the session ends instead
    page.locator(".badge-completed").wait_for(timeout=60_000)  # the page polls every 3 s
    assert page.locator("#session-note").inner_text() == "Stopped: budget of 45 credits reached."
    charges = CreditEntry.objects.filter(session_id=session.public_id, kind=CreditEntry.Kind.CHARGE)
    assert charges.count() == 2 and session.videos.count() == 2
    assert CreditEntry.objects.filter(account__user=alice).order_by("-id").first().balance_after == Decimal("960.00")
    shoot(page, "30-session-budget-reached")
