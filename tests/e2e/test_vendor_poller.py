"""The vendor poller as processes (`manage.py pollvendors`) beside a real Celery worker, on PostgreSQL + Redis,
against fake vendors on 127.0.0.1: two pollers at once never poll one job twice, each vendor's concurrency
holds, and a poller SIGKILLed mid-batch loses nothing (every video completes or is refunded exactly once,
one charge each, one file each, no vendor job created twice).

The worker runs with POLLER_IN_WORKER=false so the test decides how many pollers run and which one dies.
Waits are generous deadlines, never asserted durations.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from billing.models import CreditEntry
from tests.e2e.test_crash_recovery import _assert_each_video_ended_once, _wait
from tests.e2e.test_crash_recovery import worker_env as worker_env  # noqa: F401 - the fixture, shared
from tests.e2e.test_crash_recovery import workers as workers  # noqa: F401 - the fixture, shared
from tests.e2e.workers import poller_start, worker_kill, worker_start, worker_stop
from tests.factories import make_session, make_user
from tests.fakevendors import running, vendor_mp4
from tests.fakevendors.luma import FakeLuma
from tests.fakevendors.runway import FakeRunway
from videos.models import Video

pytestmark = pytest.mark.worker
LUMA, RUNWAY = "luma-ray-2.0-flash-5s-t2v", "runway-gen-4.5"
INTERVAL = 0.3  # LUMA_POLL_INTERVAL / RUNWAY_POLL_INTERVAL
CONCURRENCY = 3  # <VENDOR>_POLL_CONCURRENCY of each poller


@pytest.fixture
def luma(settings: Any, tmp_path: Path) -> Iterator[FakeLuma]:
    """The fake counts every status poll: when each arrived (per job), how many were open at once, and any job asked
    about by two polls at once; `poll_latency`: status answers take that long (counted as open meanwhile)."""
    for fake in running(FakeLuma, settings):
        fake.video = vendor_mp4(tmp_path)
        yield fake


@pytest.fixture
def runway(settings: Any, luma: Any) -> Iterator[FakeRunway]:
    yield from running(FakeRunway, settings)


@pytest.fixture
def pollers() -> Iterator[list]:
    started: list = []
    yield started
    for poller in started:
        worker_stop(poller)


def _env(worker_env: dict[str, str], settings: Any, *fakes: Any, cap: int) -> dict[str, str]:
    env = {**worker_env, "POLLER_IN_WORKER": "false"}
    providers = {name: dict(conf) for name, conf in settings.PROVIDER_SETTINGS.items()}
    for fake in fakes:
        name = fake.name.upper()
        env.update({f"{name}_API_KEY": fake.api_key, f"{name}_BASE_URL": fake.base_url,
                    f"{name}_MAX_CONCURRENT": str(cap), f"{name}_POLL_INTERVAL": str(INTERVAL),
                    f"{name}_POLL_CONCURRENCY": str(CONCURRENCY)})
        providers[fake.name]["api_key"] = fake.api_key  # so the videos made here are live at that vendor
    settings.PROVIDER_SETTINGS = providers
    return env


def _polls_made(log: Path) -> list[int]:
    return [int(n) for n in re.findall(rb"stopped after (\d+) polls", log.read_bytes())]


def test_two_pollers_at_once_never_poll_one_job_twice(worker_env, workers, pollers, luma, settings,
                                                      tmp_path: Path) -> None:
    n = 40
    luma.script = ["queued", "running:25", "running:50", "running:75", "succeeded"]
    luma.poll_latency = 0.05
    env = _env(worker_env, settings, luma, cap=n)
    user = make_user("two", credits=n * 20)
    for i in range(n):
        make_session(owner=user, model=LUMA, prompt=f"Two pollers, take {i}")
    log = tmp_path / "worker.log"
    workers.append(worker_start(env, log))
    pollers.extend([poller_start(env, tmp_path / "poller-a.log"), poller_start(env, tmp_path / "poller-b.log")])
    _wait(lambda: not Video.objects.exclude(status__in=Video.FINAL).exists(), "every video final")
    for poller in pollers:
        worker_stop(poller)

    assert luma.poll_overlaps == []  # no job was ever asked about by two polls at once
    polls = [times[:-1] for times in luma.poll_arrivals.values()]  # the last one is the fetch's, right after
    gaps = [b - a for times in polls for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= INTERVAL  # nor twice within its poll interval (a duplicate would be)
    # each asked once per stage, and once more by the fetch (a fresh result link)
    assert {len(times) for times in luma.poll_arrivals.values()} == {len(luma.script) + 1}
    assert len(luma.posted("/generations/video")) == n
    made = _polls_made(tmp_path / "poller-a.log") + _polls_made(tmp_path / "poller-b.log")
    assert len(made) == 2 and all(m > 0 for m in made) and sum(made) == n * len(luma.script), made
    # each poller's cap at this vendor holds (plus the worker's fetches, one status request each, 2 at once)
    assert luma.max_polling <= 2 * CONCURRENCY + 2
    assert _assert_each_video_ended_once(settings.MEDIA_ROOT) == {"completed": n, "refunded": 0}


def test_a_poller_killed_mid_batch_loses_nothing(worker_env, workers, pollers, luma, runway, settings,
                                                 tmp_path: Path) -> None:
    n = 24  # half at Luma (completes), half at Runway (the vendor fails them: refunded)
    luma.script = ["queued", "running:30", "running:60", "running:90", "succeeded"]
    luma.poll_latency = 0.3  # answers take a while, so a batch is in flight when the kill lands
    runway.script = ["running", "running", "failed"]
    env = _env(worker_env, settings, luma, runway, cap=n)
    user = make_user("crash", credits=n * 60)
    for i in range(n // 2):
        make_session(owner=user, model=LUMA, prompt=f"A poller dies, take {i}")
        make_session(owner=user, model=RUNWAY, prompt=f"A poller dies, take {i}")
    workers.append(worker_start(env, tmp_path / "worker.log"))
    pollers.append(poller_start(env, tmp_path / "poller-a.log"))
    dead = pollers[-1].pid

    held = threading.Event()

    def leases_held() -> bool:
        if Video.objects.filter(lease_owner__contains=f":{dead}:", lease_until__isnull=False).count() >= 3:
            held.set()
        return held.is_set() and sum(len(t) for t in luma.poll_arrivals.values()) >= n // 2

    _wait(leases_held, "the first poller holding a batch")
    worker_kill(pollers[-1])
    interrupted = Video.objects.filter(lease_owner__contains=f":{dead}:").count()
    assert interrupted  # the kill landed with leases held

    pollers.append(poller_start(env, tmp_path / "poller-b.log"))
    _wait(lambda: not Video.objects.exclude(status__in=Video.FINAL).exists(), "every video final")

    assert _assert_each_video_ended_once(settings.MEDIA_ROOT) == {"completed": n // 2, "refunded": n // 2}
    assert len(luma.posted("/generations/video")) == n // 2 and len(runway.posted("/v1/text_to_video")) == n // 2
    charges = CreditEntry.objects.filter(kind="charge")
    assert charges.count() == n == charges.values("video_id").distinct().count()
    assert set(Video.objects.filter(provider="runway").values_list("error_code", flat=True)) == {"vendor_error"}
