"""Failover with a real Celery worker: Luma accepts the job and its result link expires (result_expired), the
worker hands the video to Runway on its own (the failover queues it and sends its start task on commit), and
Runway makes it. Two fake vendors on 127.0.0.1, real adapters, the worker's own tasks; nothing driven by hand."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from billing.models import CreditEntry
from tests.factories import make_session, make_user
from tests.fakevendors import running, vendor_mp4
from tests.fakevendors.luma import FakeLuma
from tests.fakevendors.runway import FakeRunway
from videos.models import Video, VideoModel

A, B = "luma-ray-2.0-flash-5s-t2v", "runway-gen-4.5"
DEADLINE = 180  # seconds: generous, for a loaded machine; an outcome is awaited, not timed


@pytest.fixture
def vendors(settings: Any, tmp_path: Path) -> Any:
    mp4 = vendor_mp4(tmp_path)
    for luma in running(FakeLuma, settings):
        for runway in running(FakeRunway, settings):
            luma.script, luma.expire_results = ["running", "succeeded"], True
            runway.script, runway.video = ["running", "succeeded"], mp4
            yield luma, runway


@pytest.fixture
def worker_env(vendors: Any) -> dict[str, str]:
    luma, runway = vendors
    return {"LUMA_API_KEY": luma.api_key, "LUMA_BASE_URL": luma.base_url, "LUMA_POLL_INTERVAL": "0.3",
            "RUNWAY_API_KEY": runway.api_key, "RUNWAY_BASE_URL": runway.base_url, "RUNWAY_POLL_INTERVAL": "0.3",
            "LOG_LEVEL": "WARNING"}


@pytest.mark.worker
def test_the_worker_fails_a_video_over_to_the_next_vendor_and_completes_it(celery_worker_process: str,
                                                                           vendors: Any) -> None:
    luma, runway = vendors
    user = make_user("failover", credits=1000)
    video = make_session(owner=user, model=A, fallback_models=[B]).videos.get()
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        video.refresh_from_db()
        if video.is_final:
            break
        time.sleep(0.5)
    assert video.status == "completed", (video.stage, video.error_code, video.error_detail)
    assert (video.model.model_id, video.provider) == (B, "runway") and video.file_size > 0
    assert [(a["model"], a["error_code"]) for a in video.previous_attempts] == [(A, "result_expired")]
    prices = {m.model_id: m.price_for(5) for m in VideoModel.objects.filter(model_id__in=[A, B])}
    ledger = list(CreditEntry.objects.filter(video_id=video.public_id).order_by("id").values_list("kind", "delta"))
    assert ledger == [("charge", -prices[A]), ("refund", prices[A]), ("charge", -prices[B])]
    assert Video.objects.filter(owner=user).count() == 1
