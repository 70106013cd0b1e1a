"""An operator disables a model while a real Celery worker (and its poller) works through its queue: the jobs the
vendor already has are polled to the end and paid for; the videos still queued never reach it: those with a
fallback are made there, the others fail with model_unavailable and are refunded once. Fake Luma and Runway on
127.0.0.1, real adapters; nothing driven by hand but the operator's toggle."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.factories import make_session, make_user
from tests.fakevendors import running, vendor_mp4
from tests.fakevendors.luma import FakeLuma
from tests.fakevendors.runway import FakeRunway
from videos.models import Video, VideoModel

A, B = "luma-ray-2.0-flash-5s-t2v", "runway-gen-4.5"
N = 8
DEADLINE = 240  # seconds: generous, for a loaded machine; an outcome is awaited, not timed
SCRIPT = ["queued", *[f"running:{p}" for p in range(5, 100, 5)], "succeeded"]  # 20 polls a job at 0.3 s


@pytest.fixture
def vendors(settings: Any, tmp_path: Path) -> Any:
    mp4 = vendor_mp4(tmp_path)
    for luma in running(FakeLuma, settings):
        for runway in running(FakeRunway, settings):
            luma.script, luma.video = SCRIPT, mp4
            runway.script, runway.video = ["running", "succeeded"], mp4
            yield luma, runway


@pytest.fixture
def worker_env(vendors: Any) -> dict[str, str]:
    luma, runway = vendors
    return {"LUMA_API_KEY": luma.api_key, "LUMA_BASE_URL": luma.base_url, "LUMA_POLL_INTERVAL": "0.3",
            "LUMA_MAX_CONCURRENT": "2", "RUNWAY_API_KEY": runway.api_key, "RUNWAY_BASE_URL": runway.base_url,
            "RUNWAY_POLL_INTERVAL": "0.3", "LOG_LEVEL": "WARNING"}


@pytest.mark.worker
def test_disabling_a_model_withdraws_its_queued_videos_and_lets_the_vendors_jobs_finish(
        celery_worker_process: str, vendors: Any) -> None:
    luma, runway = vendors
    user = make_user("operator-race", credits=10_000)
    videos = [make_session(owner=user, model=A, prompt=f"wave {i}", **({"fallback_models": [B]} if i % 2 else {}))
              .videos.get() for i in range(N)]
    deadline = time.monotonic() + DEADLINE
    while not luma.tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert luma.tasks, "the worker sent nothing to the vendor"
    VideoModel.objects.filter(model_id=A).update(enabled=False)  # the operator's toggle, mid-queue
    while time.monotonic() < deadline:
        if Video.objects.filter(pk__in=[v.pk for v in videos], status__in=["completed", "failed"]).count() == N:
            break
        time.sleep(0.3)

    by_task = {v.vendor_task_id: v for v in Video.objects.filter(owner=user)}
    at_luma = set(luma.tasks)
    assert 0 < len(at_luma) < N  # the vendor's jobs at the toggle, no more
    prices = {m.model_id: m.price_for(5) for m in VideoModel.objects.filter(model_id__in=[A, B])}
    for video in Video.objects.filter(owner=user).select_related("model"):
        ledger = list(CreditEntry.objects.filter(video_id=video.public_id).order_by("id").values_list("kind", "delta"))
        if video.vendor_task_id in at_luma:  # the vendor had it: made and paid, whatever the toggle
            assert video.status == "completed" and video.model.model_id == A, (video.stage, video.error_code)
            assert ledger == [("charge", -prices[A])]
        elif video.params.get("fallback_models"):  # never sent to luma: made by its fallback
            assert video.status == "completed" and video.provider == "runway", (video.stage, video.error_code)
            assert [(a["model"], a["error_code"]) for a in video.previous_attempts] == [(A, "model_unavailable")]
            assert ledger == [("charge", -prices[A]), ("refund", prices[A]), ("charge", -prices[B])]
        else:  # nowhere to go: failed, refunded once
            assert video.status == "failed" and video.error_code == "model_unavailable", video.stage
            assert ledger == [("charge", -prices[A]), ("refund", prices[A])]
    assert len(luma.posted("/dream-machine/v1/generations/video")) == len(at_luma)  # nothing sent after the toggle
    assert all(task in by_task for task in at_luma)
    assert not luma.problems and not runway.problems
    made_elsewhere = Video.objects.filter(owner=user, provider="runway", status="completed").count()
    assert credit_balance(user=user) == 10_000 - len(at_luma) * prices[A] - made_elsewhere * prices[B]
