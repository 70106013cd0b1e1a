"""Fault injection (issue 8): a real Celery worker on PostgreSQL + Redis is SIGKILLed (with its pool children)
mid-render, mid-poll and mid-submit (Kling: the task is found again by our external_task_id); a new worker is started; every video ends completed once or refunded once, with
exactly one file each, and no vendor job is created twice.

The lease is long here (VIDEO_LEASE_SECONDS=600, SWEEP_INTERVAL=2): recovery within the tests' deadlines comes
from the sweep ending the leases of processes that are gone. The waits are generous deadlines, never asserted
durations.
"""

from __future__ import annotations

import os
import signal
import subprocess
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
from tests.fakevendors import running, vendor_mp4
from tests.fakevendors.kling import FakeKling
from tests.fakevendors.luma import FakeLuma
from videos.models import Video

pytestmark = pytest.mark.worker


class HeldLuma(FakeLuma):
    """Fake Luma whose status requests can be held open: the worker is killed while it waits for one."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = ""  # the method whose requests are held: GET (status) or POST (create)
        self.held = 0
        self.release = threading.Event()

    def handle(self, request: Any) -> Any:
        if self.holding == request.method and "/generations" in request.path:
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


def _freeze_mid_render(worker: subprocess.Popen) -> list[str]:
    """Freeze the worker's processes (SIGSTOP) while a render is under way and return the videos rendering then.

    Renders are quick, so one seen rendering may finish before a signal lands: then the worker goes on and the
    next render is caught. Frozen processes cannot move a row on, so what is rendering now is what a kill hits."""
    while True:
        _wait(lambda: Video.objects.filter(stage="rendering", progress__gte=5).exists(), "a render under way")
        os.killpg(worker.pid, signal.SIGSTOP)
        if rendering := list(Video.objects.filter(stage="rendering").values_list("public_id", flat=True)):
            return rendering
        os.killpg(worker.pid, signal.SIGCONT)


def test_a_worker_killed_mid_render_loses_nothing(worker_env, workers, settings, tmp_path: Path) -> None:
    user = make_user("crash", credits=1000)
    for i in range(4):
        make_session(owner=user, prompt=f"A lighthouse in a storm, take {i}", width=640, height=360)
    log = tmp_path / "worker.log"
    workers.append(worker_start(worker_env, log))
    interrupted = _freeze_mid_render(workers[-1])
    worker_kill(workers[-1])  # the kill lands mid-render: the frozen processes could not move those rows on

    workers.append(worker_start(worker_env, log))
    _wait(lambda: not Video.objects.exclude(status__in=Video.FINAL).exists(), "every video final")
    outcome = _assert_each_video_ended_once(settings.MEDIA_ROOT)
    assert outcome == {"completed": 4, "refunded": 0}  # a render is redone, never given up
    assert set(Video.objects.filter(public_id__in=interrupted).values_list("status", flat=True)) == {"completed"}


@pytest.fixture
def luma(settings: Any, tmp_path: Path) -> Iterator[HeldLuma]:
    for fake in running(HeldLuma, settings):
        fake.video = vendor_mp4(tmp_path)
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
    luma.holding = "GET"
    log = tmp_path / "worker.log"
    workers.append(worker_start(env, log))
    _wait(lambda: luma.held >= 1, "a poll in flight")
    worker_kill(workers[-1])
    luma.holding = ""
    luma.release.set()  # the dead worker's request is answered into a closed socket

    workers.append(worker_start(env, log))
    _wait(lambda: not Video.objects.exclude(status__in=Video.FINAL).exists(), "every video final")
    outcome = _assert_each_video_ended_once(settings.MEDIA_ROOT)
    assert outcome == {"completed": 3, "refunded": 0}
    assert len(luma.posted("/dream-machine/v1/generations/video")) == 3  # one vendor job per video, never resubmitted


def test_a_worker_killed_mid_submit_refunds_once_and_never_sends_the_job_twice(worker_env, workers, luma, settings,
                                                                              tmp_path: Path) -> None:
    """Luma cannot be asked "did you get my job?": a submit cut off is failed and refunded once, `interrupted`."""
    env = {**worker_env, "LUMA_API_KEY": luma.api_key, "LUMA_BASE_URL": luma.base_url, "LUMA_POLL_INTERVAL": "0.3",
           "LUMA_MAX_CONCURRENT": "1"}
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS,
                                  "luma": {**settings.PROVIDER_SETTINGS["luma"], "api_key": luma.api_key}}
    user = make_user("crash", credits=1000)
    for i in range(2):  # the cap is 1: the second waits, queued, and goes through once the first is settled
        make_session(owner=user, prompt=f"Waves on a reef, take {i}")
    luma.holding = "POST"
    log = tmp_path / "worker.log"
    workers.append(worker_start(env, log))
    _wait(lambda: luma.held >= 1, "a submit in flight")
    worker_kill(workers[-1])
    luma.holding = ""
    luma.release.set()  # the vendor did get that job; we never learnt its id

    workers.append(worker_start(env, log))
    _wait(lambda: not Video.objects.exclude(status__in=Video.FINAL).exists(), "every video final")
    outcome = _assert_each_video_ended_once(settings.MEDIA_ROOT)
    assert outcome == {"completed": 1, "refunded": 1}
    refunded = Video.objects.get(status="failed")
    assert refunded.error_code == "interrupted" and "refunded" in refunded.error
    assert len(luma.posted("/dream-machine/v1/generations/video")) == 2  # one each: the cut-off one never sent again


class HeldKling(FakeKling):
    """Fake Kling that makes the task at once but can hold the create's answer: the worker is killed mid-submit,
    after Kling has the task and before the worker knows its id."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self.held = 0
        self.release = threading.Event()

    def create(self, request: Any, kind: str) -> Any:
        reply = super().create(request, kind)
        if self.holding:
            self.held += 1
            self.release.wait(120)
        return reply


@pytest.fixture
def kling(settings: Any, tmp_path: Path) -> Iterator[HeldKling]:
    for fake in running(HeldKling, settings, secret_key=HeldKling.secret_key):
        fake.video = vendor_mp4(tmp_path)
        fake.script = ["queued", "running:50", "succeeded"]
        yield fake
        fake.release.set()


def test_a_worker_killed_mid_submit_finds_the_kling_task_again(worker_env, workers, kling, settings,
                                                                tmp_path: Path) -> None:
    env = {**worker_env, "KLING_ACCESS_KEY": kling.api_key, "KLING_SECRET_KEY": kling.secret_key,
           "KLING_BASE_URL": kling.base_url, "KLING_POLL_INTERVAL": "0.3"}
    user = make_user("crash", credits=1000)
    for i in range(3):
        make_session(owner=user, prompt=f"A kite over dunes, take {i}", model="kling-v1-6-std-5s-720p-t2v")
    assert set(Video.objects.values_list("provider", flat=True)) == {"kling"}
    kling.holding = True
    log = tmp_path / "worker.log"
    workers.append(worker_start(env, log))
    _wait(lambda: kling.held >= 1, "a create in flight")
    worker_kill(workers[-1])
    kling.holding = False
    kling.release.set()  # the dead worker's create is answered into a closed socket
    interrupted = list(Video.objects.filter(stage="submitting").values_list("public_id", flat=True))
    assert set(interrupted) & set(kling.external)  # Kling has the task; the worker never learnt its id

    workers.append(worker_start(env, log))
    _wait(lambda: not Video.objects.exclude(status__in=Video.FINAL).exists(), "every video final")
    outcome = _assert_each_video_ended_once(settings.MEDIA_ROOT)
    assert outcome == {"completed": 3, "refunded": 0}  # found again, not failed as interrupted
    assert len(kling.tasks) == 3 and sorted(kling.external) == sorted(Video.objects.values_list("public_id", flat=True))
    looked_up = {r.path.rsplit("/", 1)[1] for r in kling.requests if r.method == "GET" and "/vid_" in r.path}
    assert set(interrupted) <= looked_up  # each interrupted submit was looked up by our id, not resent blindly
    for video in Video.objects.all():  # each one polled on the task its own create made
        assert video.vendor_task_id == f"text2video/{kling.external[video.public_id]}"
