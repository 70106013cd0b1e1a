"""Failover through the real adapters over HTTP: Luma's result link expires (our code result_expired, a
transient failure after acceptance), the video goes to Runway, which makes it; the ledger shows both attempts."""

from __future__ import annotations

import pytest

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.factories import make_session
from tests.fakevendors import running, vendor_mp4
from tests.fakevendors.luma import FakeLuma
from tests.fakevendors.runway import FakeRunway
from tests.videos.services.test_failover import _drive
from videos.models import Video, VideoModel

pytestmark = pytest.mark.django_db
A, B = "luma-ray-2.0-flash-5s-t2v", "runway-gen-4.5"


@pytest.fixture
def luma(settings):
    yield from running(FakeLuma, settings)


@pytest.fixture
def runway(settings, luma):
    yield from running(FakeRunway, settings)


def test_an_expired_luma_result_fails_over_to_runway_which_makes_the_video(alice, luma, runway, tmp_path) -> None:
    luma.script = ["running", "succeeded"]
    luma.expire_results = True
    runway.script = ["running", "succeeded"]
    runway.video = vendor_mp4(tmp_path, width=320, height=180, duration=1.0)
    before = credit_balance(user=alice)
    video = make_session(owner=alice, model=A, fallback_models=[B]).videos.get()
    assert video.provider == "luma" and not video.simulated
    video = _drive(video)

    assert video.stage == Video.Stage.DONE and video.file and video.file_size > 0
    assert (video.model.model_id, video.provider) == (B, "runway")
    assert [(a["model"], a["vendor"], a["error_code"]) for a in video.previous_attempts] == [
        (A, "luma", "result_expired")]
    prices = {m.model_id: m.price_for(5) for m in VideoModel.objects.filter(model_id__in=[A, B])}
    ledger = list(CreditEntry.objects.filter(video_id=video.public_id).order_by("id").values_list("kind", "delta"))
    assert ledger == [("charge", -prices[A]), ("refund", prices[A]), ("charge", -prices[B])]
    assert credit_balance(user=alice) == before - prices[B]
    assert len([r for r in runway.requests if r.method == "POST"]) == 1  # one job at Runway
