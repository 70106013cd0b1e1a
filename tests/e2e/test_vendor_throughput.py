"""Throughput with a live vendor (issue 4): polling never holds a worker, and the per-vendor cap holds work
in `pending` instead of sending the vendor more than it allows.

One real Celery worker process (one child) and a fake Luma on 127.0.0.1 whose tasks need four polls each
(queued, dreaming, dreaming, completed) at LUMA_POLL_INTERVAL=0.3 s. A worker that slept between polls
would hold one of its CONCURRENCY slots per video in flight, so the vendor would never see more than
CONCURRENCY unfinished tasks at once. The poller process beside the worker (services.poller) keeps up to
LUMA_MAX_CONCURRENT of them moving at once: the vendor's own count of tasks in flight proves it, whatever
the machine's load (no wall-clock bound; bench/vendor_polling.py measures the speed).
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.factories import make_session, make_user
from tests.fakevendors import running, vendor_mp4
from tests.fakevendors.luma import FakeLuma
from videos.models import Video
from videos.providers import get_provider
from videos.providers.luma import LumaProvider

N = 200
CAP = 20  # LUMA_MAX_CONCURRENT for the worker
POLL_INTERVAL = 0.3  # LUMA_POLL_INTERVAL for the worker
SCRIPT = ["queued", "running:30", "running:70", "succeeded"]  # one stage per poll
CONCURRENCY = 2
DEADLINE = 900  # seconds: generous, for a loaded machine; an outcome is awaited, not timed
PRICE = Decimal("20.00")  # luma-ray-2.0-flash-5s-t2v


@pytest.fixture
def luma(settings: Any, tmp_path: Path) -> Any:
    for fake in running(FakeLuma, settings):
        mp4 = vendor_mp4(tmp_path)
        fake.video = mp4  # the pipeline probes the result: a real (small) MP4
        fake.script = SCRIPT
        yield fake


@pytest.fixture
def worker_env(luma: Any) -> dict[str, str]:
    return {"LUMA_API_KEY": luma.api_key, "LUMA_BASE_URL": luma.base_url, "LUMA_MAX_CONCURRENT": str(CAP),
            "LUMA_POLL_INTERVAL": str(POLL_INTERVAL), "LOG_LEVEL": "WARNING"}


@pytest.fixture
def worker_concurrency() -> int:
    return CONCURRENCY


def test_poll_interval_comes_from_settings_else_the_adapter(settings: Any) -> None:
    assert get_provider("luma").poll_interval == LumaProvider.poll_interval == 5.0
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS,
                                  "luma": {**settings.PROVIDER_SETTINGS["luma"], "poll_interval": 0.3}}
    assert get_provider("luma").poll_interval == 0.3
    assert LumaProvider.poll_interval == 5.0  # the class keeps its own


@pytest.mark.worker
def test_one_worker_moves_hundreds_of_vendor_tasks_within_the_vendor_cap(
        celery_worker_process: str, luma: Any) -> None:
    assert CONCURRENCY < CAP  # so reaching the cap is impossible for a worker that sleeps between polls
    user = make_user("bulk", credits=int(N * PRICE) + 100)
    started = time.monotonic()
    for i in range(N):  # each one charged and its start task sent on commit, as the API does
        make_session(owner=user, prompt=f"wave number {i} breaking on the shore")
    created = time.monotonic() - started

    finished = 0
    while time.monotonic() - started < DEADLINE:
        finished = Video.objects.filter(status__in=[Video.Status.COMPLETED, Video.Status.FAILED]).count()
        if finished == N:
            break
        time.sleep(0.25)
    elapsed = time.monotonic() - started

    statuses = Counter(Video.objects.values_list("status", flat=True))
    errors = Counter(Video.objects.exclude(error="").values_list("error_code", "error"))
    assert statuses == {"completed": N}, (f"{elapsed:.1f}s", statuses, errors.most_common(3))
    print(f"\n{N} videos in {elapsed:.1f}s (created in {created:.1f}s); "
          f"vendor peak in flight {luma.max_in_flight}/{CAP}")

    # The vendor: one create per video, never more than CAP unfinished at once (and the cap was reached,
    # which a worker holding a slot per polled video, CONCURRENCY < CAP, never could: work waited in pending
    # instead of being sent), and no poll after a task's final answer.
    assert len(luma.posted("/dream-machine/v1/generations/video")) == N
    assert luma.max_in_flight == CAP
    assert luma.in_flight == 0
    # one status request per stage, and one more by the fetch (a fresh result link, no URL through the broker)
    assert sorted(t.polls for t in luma.tasks.values()) == [len(SCRIPT) + 1] * N
    assert not luma.problems

    # Every video charged once, none refunded; the files are ours.
    charges = CreditEntry.objects.filter(kind=CreditEntry.Kind.CHARGE)
    assert charges.count() == N and charges.values("video_id").distinct().count() == N
    assert not CreditEntry.objects.filter(kind=CreditEntry.Kind.REFUND).exists()
    assert credit_balance(user=user) == 100
    assert not Video.objects.filter(file="").exists()
    assert set(Video.objects.values_list("vendor_task_id", flat=True)) == set(luma.tasks)
