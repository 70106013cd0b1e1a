"""A model taken off sale while its videos wait: the videos not yet at the vendor never reach it. They go to their
fallback (charged anew), or fail with code model_unavailable and are refunded once; the ones the vendor already
has are polled to the end."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.fakevendors import vendor_mp4
from tests.factories import make_session, make_user
from videos import lifecycle
from videos.models import VendorState, Video, VideoModel
from videos.providers import fake
from videos.services import vendor_dispatch, video_poll, video_start

Stage = Video.Stage
A, B = "luma-ray-2.0-flash-5s-t2v", "runway-gen-4.5"  # both 5s, 720p, 16:9


@pytest.fixture
def vendors(settings, monkeypatch, tmp_path):
    """luma and runway answered by the in-memory FakeProvider (every job completes with a real MP4); luma takes
    one job at a time, so the others wait queued. Yields the webhook events emitted."""
    fake.reset()
    settings.PROVIDERS = dict.fromkeys(("luma", "runway"), "videos.providers.fake.FakeProvider")
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS,
                                  "luma": {**settings.PROVIDER_SETTINGS["luma"], "max_concurrent": 1}}
    fake.FakeProvider.result_bytes = vendor_mp4(tmp_path)
    events: list[tuple[str, int]] = []
    from webhooks import services as webhooks

    monkeypatch.setattr(webhooks, "event_emit", lambda *, event, obj: events.append((event, obj.pk)))
    yield events
    fake.reset()


def _ledger(video: Video) -> list[tuple[str, Decimal]]:
    return [(e.kind, e.delta) for e in CreditEntry.objects.filter(video_id=video.public_id).order_by("id")]


def _price(model_id: str) -> Decimal:
    return VideoModel.objects.get(model_id=model_id).price_for(5)


def _finish(video: Video) -> Video:
    """Poll a submitted video to its end, as the poller would."""
    for _ in range(10):
        video.refresh_from_db()
        if video.stage in lifecycle.FINAL:
            return video
        Video.objects.filter(pk=video.pk).update(next_poll_at=None)
        video_poll(video.pk)
    raise AssertionError(f"{video.public_id} never finished: {video.stage}")


@pytest.mark.django_db
def test_a_queued_video_of_a_disabled_model_is_refunded_once_and_never_sent(alice, vendors) -> None:
    events = vendors
    before = credit_balance(user=alice)
    first, second = (make_session(owner=alice, model=A).videos.get() for _ in range(2))
    video_start(first.pk)  # takes luma's only slot
    video_start(second.pk)  # stays queued: no slot
    second.refresh_from_db()
    assert second.stage == Stage.QUEUED and [j.video_id for j in fake.submitted] == [first.public_id]

    VideoModel.objects.filter(model_id=A).update(enabled=False)  # the operator's toggle in the admin
    first = _finish(first)  # the vendor had it: made, and paid for
    for _ in range(2):  # the slot frees: dispatch (twice: a redelivered message) must not hand it to `second`
        assert vendor_dispatch("luma") == []

    second.refresh_from_db()
    assert first.stage == Stage.DONE and second.stage == Stage.FAILED and second.status == "failed"
    assert second.error_code == "model_unavailable" and "refunded" in second.error
    assert "disabled by the operator" in second.error_detail and "disabled" not in second.error  # operators' words
    assert [j.video_id for j in fake.submitted] == [first.public_id]
    assert _ledger(second) == [("charge", -_price(A)), ("refund", _price(A))]
    assert credit_balance(user=alice) == before - _price(A)
    assert ("video.failed", second.pk) in events and ("video.completed", first.pk) in events
    assert VendorState.objects.filter(vendor="luma", last_error_class="model_unavailable").count() == 0


@pytest.mark.django_db
def test_a_start_message_already_sent_when_the_model_is_disabled_does_not_submit(alice, vendors) -> None:
    video = make_session(owner=alice, model=A).videos.get()
    assert vendor_dispatch("luma") == [video.pk]  # a slot reserved, its start message on its way
    VideoModel.objects.filter(model_id=A).update(enabled=False)
    for _ in range(2):  # delivered twice: one outcome
        assert video_start(video.pk) is None
    video.refresh_from_db()
    assert video.stage == Stage.FAILED and video.error_code == "model_unavailable"
    assert fake.submitted == [] and _ledger(video) == [("charge", -_price(A)), ("refund", _price(A))]


@pytest.mark.django_db
def test_a_vendor_disabled_for_its_refused_key_sends_its_queued_videos_to_their_fallback(alice, vendors) -> None:
    events = vendors
    video = make_session(owner=alice, model=A, fallback_models=[B]).videos.get()
    VendorState.objects.create(vendor="luma", auth_state=VendorState.Auth.DISABLED)
    video_start(video.pk)
    video.refresh_from_db()
    assert video.stage == Stage.QUEUED and video.model.model_id == B and video.provider == "runway"
    assert [(a["model"], a["error_code"]) for a in video.previous_attempts] == [(A, "model_unavailable")]
    video_start(video.pk)
    video = _finish(video)
    assert video.stage == Stage.DONE and [j.model_id for j in fake.submitted] == [B]
    assert _ledger(video) == [("charge", -_price(A)), ("refund", _price(A)), ("charge", -_price(B))]
    assert ("video.failed", video.pk) not in events and ("video.completed", video.pk) in events


@pytest.mark.django_db
def test_the_operators_default_fallback_takes_the_queued_videos_of_a_disabled_model(alice, vendors) -> None:
    VideoModel.objects.filter(model_id=A).update(fallback=VideoModel.objects.get(model_id=B))
    first, second = (make_session(owner=alice, model=A).videos.get() for _ in range(2))
    video_start(first.pk)
    VideoModel.objects.filter(model_id=A).update(enabled=False)
    assert vendor_dispatch("luma") == []  # luma's slot is taken anyway; the withdrawal does not wait for one
    second.refresh_from_db()
    assert second.stage == Stage.QUEUED and second.model.model_id == B
    video_start(second.pk)
    assert _finish(second).stage == Stage.DONE and _finish(first).stage == Stage.DONE
    assert [j.model_id for j in fake.submitted] == [A, B]


@pytest.mark.django_db
def test_a_simulated_video_of_a_disabled_model_is_not_rendered(alice) -> None:
    video = make_session(owner=alice, model=A).videos.get()
    assert video.provider == "local" and video.simulated  # no luma credentials here: the local renderer stands in
    VideoModel.objects.filter(model_id=A).update(enabled=False)
    video_start(video.pk)
    video.refresh_from_db()
    assert video.stage == Stage.FAILED and video.error_code == "model_unavailable" and not video.file
    assert _ledger(video) == [("charge", -_price(A)), ("refund", _price(A))]


@pytest.mark.django_db(transaction=True)
def test_disabling_while_dispatch_is_in_flight_ends_every_video_made_or_refunded_once(vendors, settings) -> None:
    """Workers dispatch and start (in threads, on their own connections) while the operator disables the model:
    whatever the interleaving, a video the vendor got is made, any other is refunded, each exactly once."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS,
                                  "luma": {**settings.PROVIDER_SETTINGS["luma"], "max_concurrent": 3}}
    user = make_user("racer", credits=10_000)
    videos = [make_session(owner=user, model=A).videos.get() for _ in range(12)]
    go = threading.Event()
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        from django.db import connections

        try:
            go.wait()
            for _ in range(6):
                for pk in vendor_dispatch("luma"):
                    video_start(pk)
                for video in videos[index::3]:
                    video_start(video.pk)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connections.close_all()

    def operator() -> None:
        from django.db import connections

        go.wait()
        deadline = time.monotonic() + 60
        while not fake.submitted and time.monotonic() < deadline:  # once something is at the vendor, mid-dispatch
            time.sleep(0.001)
        VideoModel.objects.filter(model_id=A).update(enabled=False)
        connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)] + [threading.Thread(target=operator)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for _ in range(20):  # what the poller and later dispatches do
        for video in Video.objects.filter(stage=Stage.SUBMITTED):
            _finish(video)
        vendor_dispatch("luma")
        for video in Video.objects.filter(stage__in=(Stage.QUEUED, Stage.DISPATCHED)):
            video_start(video.pk)
    sent = {j.video_id for j in fake.submitted}
    assert sent and len(sent) == len(fake.submitted)  # something reached the vendor, nothing twice
    assert len(sent) <= 3  # no more than the slots held when it was disabled: the rest never reached the vendor
    for video in Video.objects.filter(pk__in=[v.pk for v in videos]):
        kinds = [kind for kind, _ in _ledger(video)]
        if video.public_id in sent:
            assert video.stage == Stage.DONE and kinds == ["charge"], (video.public_id, video.stage, kinds)
        else:
            assert video.stage == Stage.FAILED and video.error_code == "model_unavailable", video.stage
            assert kinds == ["charge", "refund"]
    assert credit_balance(user=user) == Decimal(10_000) - len(sent) * _price(A)
