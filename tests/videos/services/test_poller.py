"""The batch vendor poller (services.poller) against the fake Luma over real HTTP on 127.0.0.1: batches of due
videos, each vendor's concurrency, Retry-After, kept-alive connections, and the hand-off of a finished job to
the fetch task (stored once, however often that message arrives)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from billing.models import CreditEntry
from tests.factories import make_session
from tests.fakevendors import running
from tests.fakevendors.luma import FakeLuma
from tests.fakevendors.runway import FakeRunway
from videos import live, tasks
from videos.models import Video
from videos.services.poller import Poller

# The poller writes from a thread of its own (its own connection): the tests commit, so it sees their rows.
pytestmark = pytest.mark.django_db(transaction=True)
MODEL = "luma-ray-2.0-flash-5s-t2v"


@pytest.fixture
def luma(settings):
    yield from running(FakeLuma, settings, max_concurrent=100, poll_interval=30, poll_concurrency=4)


def _submitted(user: Any, n: int, model: str = MODEL) -> list[Video]:
    """`n` videos (Luma's unless `model` says) accepted by the vendor, each due for its first poll now."""
    pks = []
    for i in range(n):
        video = make_session(owner=user, model=model, prompt=f"wave {i} on the shore").videos.get()
        tasks.video_start_task.apply(args=(video.pk,))
        pks.append(video.pk)
    Video.objects.filter(pk__in=pks).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    videos = list(Video.objects.filter(pk__in=pks).order_by("pk"))
    assert all(v.stage == Video.Stage.SUBMITTED and v.vendor_task_id for v in videos)
    return videos


def _polls(fake: FakeLuma) -> list[str]:
    return [r.path for r in fake.requests if r.method == "GET" and "/generations/" in r.path]


def _drain() -> Poller:
    poller = Poller()
    poller.run(threading.Event(), drain=True)
    poller.close()
    return poller


def test_each_due_video_is_polled_once_per_pass_and_its_answer_stored(alice, luma) -> None:
    luma.script = ["queued", "running:40", "succeeded"]
    videos = _submitted(alice, 12)
    before = timezone.now()
    poller = _drain()

    assert poller.polls == 12 and sorted(_polls(luma)) == sorted(
        f"/dream-machine/v1/generations/{v.vendor_task_id}" for v in videos)
    # the fake counts status polls as such (its poll route), one per job, never two at once for one job
    assert luma.polls == 12 and sorted(luma.poll_arrivals) == sorted(v.vendor_task_id for v in videos)
    assert luma.poll_overlaps == []
    for video in Video.objects.filter(pk__in=[v.pk for v in videos]):
        assert (video.stage, video.vendor_status, video.lease_owner, video.lease_until) == ("submitted", "queued", "", None)
        assert video.next_poll_at >= before + timedelta(seconds=30)  # the vendor's interval, from the answer
    assert _drain().polls == 0  # nothing is due again before its interval


def test_polls_at_one_vendor_never_exceed_its_concurrency(alice, luma) -> None:
    luma.script = ["running:10", "running:20"]
    luma.latency = 0.2  # answers take a while, so polls pile up at the vendor if nothing holds them back
    _submitted(alice, 20)
    luma.max_busy = 0
    poller = _drain()
    assert poller.polls == 20
    assert luma.max_busy == luma.max_polling == 4  # LUMA_POLL_CONCURRENCY: reached, never passed
    assert luma.max_in_flight == 20 <= 100  # jobs at the vendor: within max_concurrent


def test_polls_reuse_kept_alive_connections(alice, luma) -> None:
    luma.script = ["running:10", "running:20", "running:30", "running:40"]
    videos = _submitted(alice, 10)
    luma.connections = 0
    for _ in range(3):
        assert _drain().polls == 10
        Video.objects.filter(pk__in=[v.pk for v in videos]).update(next_poll_at=timezone.now())
    assert len(_polls(luma)) == 30
    assert luma.connections <= 4  # one pool per vendor per process: at most its concurrency, reused


def test_retry_after_holds_back_the_video_and_its_vendor(alice, luma, settings) -> None:
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS,
                                  "luma": {**settings.PROVIDER_SETTINGS["luma"], "poll_concurrency": 1}}
    luma.script = ["running:10"]
    videos = _submitted(alice, 5)
    luma.reply(429, {"detail": "Too many requests"}, headers={"Retry-After": "120"})
    asked = timezone.now()
    poller = _drain()

    assert len(_polls(luma)) == 1 and poller.polls == 1  # the others were put back unasked
    rows = list(Video.objects.filter(pk__in=[v.pk for v in videos]))
    assert all(v.next_poll_at >= asked + timedelta(seconds=120) for v in rows), [v.next_poll_at for v in rows]
    assert all(v.stage == "submitted" and not v.lease_owner and v.lease_until is None for v in rows)
    assert sorted(v.attempts for v in rows) == [0, 0, 0, 0, 1]  # only the one that got the 429 backs off
    assert _drain().polls == 0  # nothing is polled before Retry-After has passed


def test_a_finished_job_is_handed_to_the_fetch_task_and_stored_once(alice, luma, monkeypatch, tmp_path) -> None:
    from tests.videos.tasks.test_video_lifecycle import _mp4_bytes

    luma.script = ["succeeded"]
    luma.video = _mp4_bytes(tmp_path)
    (video,) = _submitted(alice, 1)
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.video_fetch_task, "delay", lambda *args: sent.append(args))
    assert _drain().polls == 1  # sent once the move to storing is committed
    video.refresh_from_db()
    assert video.stage == "storing" and len(sent) == 1 and sent[0][0] == video.pk
    assert video.lease_owner == sent[0][1]  # held for the fetch, by name

    tasks.video_fetch_task.apply(args=sent[0])
    tasks.video_fetch_task.apply(args=sent[0])  # delivered twice: adopted once, stored once
    video.refresh_from_db()
    assert video.status == "completed" and video.file_size > 0
    assert len([r for r in luma.requests if "/cdn/" in r.path]) == 1  # one download
    assert CreditEntry.objects.filter(video_id=video.public_id).count() == 1  # the one charge


def test_a_failed_job_is_failed_and_refunded_once(alice, luma) -> None:
    luma.script = ["failed"]
    (video,) = _submitted(alice, 1)
    _drain()
    video.refresh_from_db()
    assert (video.status, video.error_code) == ("failed", "vendor_error")
    kinds = sorted(CreditEntry.objects.filter(video_id=video.public_id).values_list("kind", flat=True))
    assert kinds == ["charge", "refund"]


def test_a_lease_held_by_another_run_is_not_polled(alice, luma) -> None:
    luma.script = ["running:10"]
    held, free = _submitted(alice, 2)
    Video.objects.filter(pk=held.pk).update(lease_owner="elsewhere:1:abc",
                                            lease_until=timezone.now() + timedelta(seconds=60))
    assert _drain().polls == 1
    assert _polls(luma) == [f"/dream-machine/v1/generations/{free.vendor_task_id}"]
    Video.objects.filter(pk=held.pk).update(lease_until=timezone.now() - timedelta(seconds=1))  # it died
    assert _drain().polls == 1  # an expired lease is taken by the next batch


def test_pollers_claiming_at_the_same_moment_get_disjoint_batches(luma) -> None:
    from django.db import connection

    from tests.factories import make_user

    videos = _submitted(make_user("claims", credits=2000), 60)
    pollers = [Poller() for _ in range(3)]
    claimed: list[list[int]] = [[] for _ in pollers]
    barrier = threading.Barrier(len(pollers))

    def claim(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(4):
                claimed[i] += [item.pk for item in pollers[i].claim("luma", 10)]
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(pollers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [pk for batch in claimed for pk in batch]
    assert len(every) == len(set(every)) == 60 and set(every) == {v.pk for v in videos}
    for poller, pks in zip(pollers, claimed, strict=True):
        assert set(Video.objects.filter(lease_owner=poller.owner).values_list("pk", flat=True)) == set(pks)


@pytest.fixture
def runway(settings):
    yield from running(FakeRunway, settings, max_concurrent=100, poll_interval=30)  # it reports progress


def test_progress_a_poll_moves_wakes_the_sessions_long_polls(alice, runway, monkeypatch) -> None:
    """The poller's grouped writes signal the sessions whose videos' progress moved (dashboard.live wakes their
    long-polls and streams); a poll that learns nothing new signals nothing."""
    if not django_settings.LIVE_REDIS_URL:
        pytest.skip("needs Redis (make test sets REDIS_URL)")
    published: list[list[int]] = []
    monkeypatch.setattr(live, "publish", lambda pks: published.append(sorted(pks)))
    runway.script = ["running:40", "running:40", "succeeded"]
    videos = _submitted(alice, 3, model="runway-gen-4.5")
    published.clear()  # the submits' own signals
    _drain()
    assert sorted(pk for pks in published for pk in pks) == sorted(v.session_id for v in videos)
    assert set(Video.objects.filter(pk__in=[v.pk for v in videos]).values_list("progress", flat=True)) == {40}
    published.clear()
    Video.objects.filter(pk__in=[v.pk for v in videos]).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    _drain()  # 40 again: nothing a client sees moved
    assert published == []
