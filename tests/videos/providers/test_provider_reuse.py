"""Providers live once per process: one instance (and one kept-alive HTTP session) per vendor and settings."""

from __future__ import annotations

import threading

import pytest

from tests.fakevendors import running
from tests.fakevendors.jobs import make_job
from tests.fakevendors.luma import FakeLuma
from videos.providers import get_provider


@pytest.fixture
def luma(settings):
    yield from running(FakeLuma, settings)


def count_accepts(fake) -> list[object]:
    """Record every TCP connection the fake vendor's server accepts."""
    accepted: list[object] = []
    accept = fake.server.get_request

    def get_request():
        conn = accept()
        accepted.append(conn[1])
        return conn

    fake.server.get_request = get_request
    return accepted


def test_two_calls_return_the_same_instance_and_session(luma):
    first, second = get_provider("luma"), get_provider("luma")
    assert first is second and first.http is second.http
    assert get_provider("runway") is not first


def test_a_settings_override_gives_a_fresh_instance(luma, settings):
    before = get_provider("luma")
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS,
                                  "luma": {**settings.PROVIDER_SETTINGS["luma"], "poll_interval": 0.5}}
    after = get_provider("luma")
    assert after is not before and after.http is not before.http
    assert after.poll_interval == 0.5 and before.poll_interval != 0.5
    assert get_provider("luma") is after


def test_a_setting_edited_in_place_gives_a_fresh_instance(luma, settings):
    before = get_provider("luma")
    settings.PROVIDER_SETTINGS["luma"]["base_url"] = luma.url + "/elsewhere"  # no setting_changed signal
    after = get_provider("luma")
    assert after is not before and after.base_url == luma.url + "/elsewhere"


def test_every_thread_gets_the_one_instance(luma):
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        seen.append(get_provider("luma"))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(seen) == 8 and len({id(p) for p in seen}) == 1


def test_polls_reuse_one_kept_alive_connection(luma):
    accepted = count_accepts(luma)
    luma.script = ["queued"] + ["running:50"] * 20
    job = make_job("luma-ray-2.0")
    task_id = get_provider("luma").submit(job)
    statuses = [get_provider("luma").poll(task_id, job) for _ in range(10)]
    assert [s.state for s in statuses[1:]] == ["processing"] * 9
    assert len(luma.requests) == 11  # one submit, ten polls: all over the same TCP connection
    assert len(accepted) == 1


def test_concurrent_polls_keep_their_connections_open(luma):
    accepted = count_accepts(luma)
    luma.script = ["running:50"]
    job = make_job("luma-ray-2.0")
    task_ids = [get_provider("luma").submit(job) for _ in range(4)]
    errors: list[BaseException] = []

    def poll_many(task_id: str) -> None:
        try:
            for _ in range(10):
                assert get_provider("luma").poll(task_id, job).state == "processing"
        except BaseException as e:  # reported in the test thread
            errors.append(e)

    threads = [threading.Thread(target=poll_many, args=(t,)) for t in task_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(luma.requests) == 44
    assert 1 <= len(accepted) <= 5  # at most one connection per thread (plus the submits'), not one per poll
