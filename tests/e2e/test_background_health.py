"""What an operator sees of the session scheduler and the vendor poller, with the real processes on PostgreSQL and
Redis: a running `ticksessions` / `pollvendors` beats (the shared cache), /readyz and `manage.py health --this-host`
(the compose healthcheck) say it is fine; SIGKILLed with work due, /readyz fails naming it, the container check
fails, and the lag in /metrics (read from the database) keeps growing. No worker runs: nothing else does that work.
Every wait is a generous deadline on a state, never an asserted duration."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.workers import ROOT, command_start, scheduler_start, worker_environ, worker_kill, worker_stop
from tests.factories import make_session, make_user
from tests.fakevendors import running
from tests.fakevendors.luma import FakeLuma
from videos.models import GenerationSession, Video

pytestmark = pytest.mark.worker
STALE = 5  # HEARTBEAT_STALE_SECONDS here and in the CLI checks: beats come every 0.2 s
LIMIT = 2  # SESSIONS_LAG_LIMIT / VENDOR_POLL_LAG_LIMIT


@pytest.fixture
def env(transactional_db: None, live_server: Any, settings: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    if connection.vendor != "postgresql" or django_settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("needs PostgreSQL and Redis (make test sets both)")
    from dashboard.celery import app

    app.control.purge()
    settings.HEARTBEAT_STALE_SECONDS = STALE
    settings.SESSIONS_LAG_LIMIT = settings.VENDOR_POLL_LAG_LIMIT = LIMIT
    yield worker_environ(database=connection.settings_dict, media_root=str(settings.MEDIA_ROOT),
                         data_dir=str(tmp_path / "data"), public_base_url=live_server.url,
                         secret_key=django_settings.SECRET_KEY, HEARTBEAT_INTERVAL="0.2",
                         HEARTBEAT_STALE_SECONDS=str(STALE), SESSIONS_LAG_LIMIT=str(LIMIT),
                         VENDOR_POLL_LAG_LIMIT=str(LIMIT))
    app.control.purge()  # the start messages of videos the scheduler made: no worker took them


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen]]:
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        worker_stop(process)


@pytest.fixture
def luma(settings: Any) -> Iterator[FakeLuma]:
    yield from running(FakeLuma, settings)


def wait_for(condition: Callable[[], Any], what: str, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.2)
    return found


def readyz(base: str, check: str) -> tuple[int, dict[str, Any]]:
    r = requests.get(f"{base}/readyz", params={"check": check}, timeout=30)
    return r.status_code, r.json()["checks"][check]


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = requests.get(f"{base}/metrics", timeout=30)
    assert r.status_code == 200, r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def container_check(env: dict[str, str], check: str) -> int:
    """What compose's healthcheck of the `sessions` / `poller` container runs: its exit code."""
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "health", "--this-host", check], cwd=ROOT,
                          env=env, capture_output=True, timeout=120).returncode


def test_a_scheduler_beats_while_it_ticks_and_readyz_names_it_once_it_is_killed(
        env: dict[str, str], live_server: Any, started: list, tmp_path: Path) -> None:
    base = live_server.url
    user = make_user("beats", credits=100_000)
    sessions = [make_session(owner=user, timed=True, max_videos=10, interval_seconds=3600, width=256, height=144)
                for _ in range(3)]
    pks = [s.pk for s in sessions]
    GenerationSession.objects.filter(pk__in=pks).update(next_run_at=timezone.now() - timedelta(seconds=1))
    started.append(scheduler_start(env, tmp_path / "scheduler.log", "--partition", "0/1"))
    pid = started[-1].pid

    def ticked_and_seen() -> dict[str, Any] | None:
        status, check = readyz(base, "scheduler")
        mine = [p for p in check["processes"] if p["pid"] == pid]
        return check if status == 200 and mine and mine[0]["alive"] and mine[0]["sessions_ticked"] == 3 else None

    check = wait_for(ticked_and_seen, "the scheduler's heartbeat with its 3 sessions ticked")
    (process,) = check["processes"]
    assert process["partition"] == "0/1" and process["last_work_age_seconds"] is not None
    assert check["alive"] == 1 and check["due"] == 0 and "warning" not in check
    assert not GenerationSession.objects.filter(pk__in=pks, next_run_at__lte=timezone.now()).exists()
    assert container_check(env, "scheduler") == 0

    worker_kill(started.pop())  # SIGKILL: no last "stopped" beat, the heartbeat just goes stale
    GenerationSession.objects.filter(pk__in=pks).update(next_run_at=timezone.now() - timedelta(seconds=LIMIT + 1))

    def reported() -> dict[str, Any] | None:
        status, check = readyz(base, "scheduler")
        return check if status == 503 else None

    check = wait_for(reported, "/readyz failing for want of a scheduler")
    assert check["status"] == "error" and "ticksessions" in check["error"] and check["due"] == 3
    assert check["alive"] == 0 and [p["alive"] for p in check["processes"]] == [False]
    assert check["lag_seconds"] > check["lag_limit_seconds"] == LIMIT
    assert container_check(env, "scheduler") == 1

    first = scrape(base)
    assert first[("mcphub_sessions_due", ())] == 3
    assert first[("mcphub_background_processes_alive", (("kind", "scheduler"),))] == 0
    lag = first[("mcphub_sessions_lag_seconds", ())]
    assert lag > LIMIT
    wait_for(lambda: scrape(base)[("mcphub_sessions_lag_seconds", ())] > lag, "the lag growing, nobody ticking")


def test_a_poller_beats_while_it_polls_and_readyz_names_it_once_it_is_killed(
        env: dict[str, str], live_server: Any, started: list, luma: FakeLuma, tmp_path: Path) -> None:
    base = live_server.url
    luma.script = ["running:10"]  # the job never ends: it is polled until the poller dies
    env = {**env, "LUMA_API_KEY": luma.api_key, "LUMA_BASE_URL": luma.base_url, "LUMA_POLL_INTERVAL": "0.3"}
    user = make_user("polls", credits=10_000)
    pks = []
    for i in range(4):
        video = make_session(owner=user, prompt=f"A wave, take {i}").videos.get()
        task = luma.new_task("video", None)
        Video.objects.filter(pk=video.pk).update(provider="luma", stage=Video.Stage.SUBMITTED,
                                                 status=Video.Status.PROCESSING, vendor_task_id=task.id,
                                                 next_poll_at=timezone.now(), lease_owner="", lease_until=None)
        pks.append(video.pk)
    started.append(command_start(env, tmp_path / "poller.log", ["pollvendors"], ready=b"vendor poller"))
    pid = started[-1].pid

    def polling_and_seen() -> dict[str, Any] | None:
        status, check = readyz(base, "poller")
        mine = [p for p in check["processes"] if p["pid"] == pid]
        return check if status == 200 and mine and mine[0]["alive"] and mine[0]["polls"] >= 8 else None

    check = wait_for(polling_and_seen, "the poller's heartbeat with its polls")
    assert check["alive"] == 1 and check["processes"][0]["last_work_age_seconds"] is not None
    assert luma.polls >= 8 and luma.poll_overlaps == [] and set(luma.poll_arrivals) == set(luma.tasks)
    assert container_check(env, "poller") == 0

    worker_kill(started.pop())

    def reported() -> dict[str, Any] | None:
        status, check = readyz(base, "poller")
        return check if status == 503 else None

    check = wait_for(reported, "/readyz failing for want of a poller")
    assert "pollvendors" in check["error"] and check["due"] == 4 and check["alive"] == 0
    assert check["lag_seconds"] > LIMIT
    assert container_check(env, "poller") == 1
    first = scrape(base)
    assert first[("mcphub_vendor_polls_due", ())] == 4
    assert first[("mcphub_background_processes_alive", (("kind", "poller"),))] == 0
    lag = first[("mcphub_vendor_poll_lag_seconds", ())]
    wait_for(lambda: scrape(base)[("mcphub_vendor_poll_lag_seconds", ())] > lag, "the poll lag growing")
    assert set(Video.objects.filter(pk__in=pks).values_list("stage", flat=True)) == {Video.Stage.SUBMITTED}
