"""Fault injection (issue 8): a real Celery worker on PostgreSQL + Redis is SIGKILLed (with its pool children)
mid-render and mid-poll; a new worker is started; every video ends completed once or refunded once, with
exactly one file each, and no vendor job is created twice.

The lease is long here (VIDEO_LEASE_SECONDS=600, SWEEP_INTERVAL=2): recovery within the tests' deadlines comes
from the sweep ending the leases of processes that are gone. The waits are generous deadlines, never asserted
durations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from billing.models import CreditEntry
from tests.e2e.workers import worker_environ, worker_kill, worker_start, worker_stop
from tests.factories import make_session, make_user
from tests.fakevendors import running
from tests.fakevendors.luma import FakeLuma
from videos.models import Video

pytestmark = pytest.mark.worker


class HeldLuma(FakeLuma):
    """Fake Luma whose status requests can be held open: the worker is killed while it waits for one."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self.held = 0
        self.release = threading.Event()

    def handle(self, request: Any) -> Any:
        if self.holding and request.method == "GET" and "/generations/" in request.path:
            self.held += 1
            self.release.wait(120)
        return super().handle(request)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.2)


@pytest.fixture
def worker_env(transactional_db: None, live_server: Any, settings: Any, tmp_path: Path) -> dict[str, str]:
    if connection.vendor != "postgresql" or django_settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("the crash test needs PostgreSQL and a broker server (make test sets both)")
    from dashboard.celery import app

    app.control.purge()
    settings.PUBLIC_BASE_URL = live_server.url
    return worker_environ(database=connection.settings_dict, media_root=str(settings.MEDIA_ROOT),
                          data_dir=str(tmp_path / "data"), public_base_url=live_server.url,
                          secret_key=django_settings.SECRET_KEY)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list]:
    started: list = []
    yield started
    for worker in started:
        worker_stop(worker)


def _assert_each_video_ended_once(media_root: str) -> dict[str, int]:
    """Completed once (one charge, no refund, its file on disk, the only MP4 of that video) or refunded once."""
    outcome = {"completed": 0, "refunded": 0}
    mp4s = [p.name for p in Path(media_root).rglob("*.mp4")]
    for video in Video.objects.all():
        entries = list(CreditEntry.objects.filter(video_id=video.public_id).values_list("kind", flat=True))
        mine = [name for name in mp4s if name.startswith(video.public_id)]
        if video.status == "completed":
            assert sorted(entries) == ["charge"], (video.public_id, entries)
            assert mine == [Path(video.file).name], (video.public_id, mine, video.file)
            outcome["completed"] += 1
        else:
            assert video.status == "failed", (video.public_id, video.status, video.stage)
            assert sorted(entries) == ["charge", "refund"], (video.public_id, entries)
            assert mine == [], (video.public_id, mine)
            outcome["refunded"] += 1
    return outcome


def test_a_worker_killed_mid_render_loses_nothing(worker_env, workers, settings, tmp_path: Path) -> None:
    user = make_user("crash", credits=1000)
    for i in range(4):
        make_session(owner=user, prompt=f"A lighthouse in a storm, take {i}", width=640, height=360)
    log = tmp_path / "worker.log"
    workers.append(worker_start(worker_env, log))
    _wait(lambda: Video.objects.filter(stage="rendering", progress__gte=5).exists(), "a render under way")
    worker_kill(workers[-1])
    interrupted = list(Video.objects.filter(stage="rendering").values_list("public_id", flat=True))
    assert interrupted  # the kill landed mid-render

    workers.append(worker_start(worker_env, log))
    _wait(lambda: not Video.objects.exclude(status__in=Video.FINAL).exists(), "every video final")
    outcome = _assert_each_video_ended_once(settings.MEDIA_ROOT)
    assert outcome == {"completed": 4, "refunded": 0}  # a render is redone, never given up
    assert set(Video.objects.filter(public_id__in=interrupted).values_list("status", flat=True)) == {"completed"}


@pytest.fixture
def luma(settings: Any, tmp_path: Path) -> Iterator[HeldLuma]:
    from videos.providers.render import RenderSpec, render

    for fake in running(HeldLuma, settings):
        out = tmp_path / "vendor.mp4"
        render(RenderSpec(prompt="vendor result", width=160, height=90, duration=0.5), video_path=str(out),
               thumbnail_path=str(tmp_path / "t.jpg"), last_frame_path=str(tmp_path / "l.png"))
        fake.video = out.read_bytes()
        fake.script = ["queued", "running:30", "running:70", "succeeded"]
        yield fake
        fake.release.set()


def test_a_worker_killed_mid_poll_polls_on_without_a_second_job(worker_env, workers, luma, settings,
                                                                tmp_path: Path) -> None:
    env = {**worker_env, "LUMA_API_KEY": luma.api_key, "LUMA_BASE_URL": luma.base_url, "LUMA_POLL_INTERVAL": "0.3"}
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS,
                                  "luma": {**settings.PROVIDER_SETTINGS["luma"], "api_key": luma.api_key}}
    user = make_user("crash", credits=1000)
    for i in range(3):
        make_session(owner=user, prompt=f"Waves on a reef, take {i}")
    assert set(Video.objects.values_list("provider", flat=True)) == {"luma"}
    luma.holding = True
    log = tmp_path / "worker.log"
    workers.append(worker_start(env, log))
    _wait(lambda: luma.held >= 1, "a poll in flight")
    worker_kill(workers[-1])
    luma.holding = False
    luma.release.set()  # the dead worker's request is answered into a closed socket

    workers.append(worker_start(env, log))
    _wait(lambda: not Video.objects.exclude(status__in=Video.FINAL).exists(), "every video final")
    outcome = _assert_each_video_ended_once(settings.MEDIA_ROOT)
    assert outcome == {"completed": 3, "refunded": 0}
    assert len(luma.posted("/dream-machine/v1/generations/video")) == 3  # one vendor job per video, never resubmitted
