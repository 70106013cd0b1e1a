"""The vendors' limits are enforced on the request path, before anything is charged: a live Runway model asked
for what Runway would refuse answers 400 naming the field, charges nothing, creates nothing, sends nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.services import credit_balance
from tests.fakevendors import running
from tests.fakevendors.runway import FakeRunway
from videos.models import Video

pytestmark = pytest.mark.django_db
MODEL = "runway-veo-3.1"


@pytest.fixture
def runway(settings):
    yield from running(FakeRunway, settings)


@pytest.mark.parametrize(("extra", "field"), [
    ({"prompt": "😀" * 501}, "prompt"),  # 501 characters, 1002 UTF-16 code units: over Runway's 1000
    ({"prompt": "a cat", "duration": 5}, "duration"),  # veo3.1: 4, 6 or 8 s
    ({"prompt": "a cat", "aspect_ratio": "1:1"}, "aspect_ratio"),  # veo3.1: 16:9 or 9:16 only
])
def test_a_request_runway_would_refuse_is_a_400_before_any_charge(alice, alice_api, runway, extra, field):
    before = credit_balance(user=alice)
    r = alice_api.post("/videos/generate", {"model": MODEL, **extra})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["field"] == field
    assert credit_balance(user=alice) == before and not Video.objects.exists() and runway.requests == []


def test_a_prompt_of_exactly_1000_utf16_units_goes_through(alice, alice_api, runway):
    before = credit_balance(user=alice)
    r = alice_api.post("/videos/generate", {"model": MODEL, "prompt": "😀" * 500})  # 1000 code units
    assert r.status_code == 201, r.content
    video = Video.objects.get()
    assert (video.provider, video.simulated) == ("runway", False)
    assert credit_balance(user=alice) == before - Decimal(video.credits_used) < before
