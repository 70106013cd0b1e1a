"""The life of a video through the tasks: local render, vendor submit/poll/download, failure, redelivery."""

from datetime import timedelta
from decimal import Decimal

import av
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.factories import make_session
from videos import tasks
from videos.models import Video
from videos.providers import fake
from videos.providers.base import JobStatus, ProviderError, ProviderUnavailable

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor(settings):
    """Route the 'luma' vendor to the in-memory fake provider, configured (so videos are 'live')."""
    fake.reset()
    settings.PROVIDERS = {"luma": "videos.providers.fake.FakeProvider"}
    yield fake
    fake.reset()


def _poll(video_pk: int) -> float | None:
    """Poll as the scheduled task would once its countdown has run out."""
    from videos.services import video_poll

    Video.objects.filter(pk=video_pk).update(next_poll_at=None)
    return video_poll(video_pk)


def _mp4_bytes(tmp_path) -> bytes:
    from videos.providers.render import RenderSpec, render

    out = tmp_path / "vendor.mp4"
    render(RenderSpec(prompt="vendor result ocean", width=320, height=180, duration=1.0), video_path=str(out),
           thumbnail_path=str(tmp_path / "t.jpg"), last_frame_path=str(tmp_path / "l.png"))
    return out.read_bytes()


def test_the_local_renderer_makes_a_real_mp4(alice) -> None:
    session = make_session(owner=alice, prompt="A serene mountain landscape at sunset",
                           model="luma-ray-2.0-flash-5s-t2v", width=320, height=180)
    video = session.videos.get()
    tasks.video_start_task(video.pk)
    tasks.video_start_task(video.pk)  # acks_late redelivery: no second charge, still one file
    video.refresh_from_db()
    assert video.status == "completed" and video.progress == 100 and video.processing_time > 0
    with default_storage.open(video.file) as handle, av.open(handle) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.name, stream.width, stream.height, frames) == ("h264", 320, 180, 120)
    assert default_storage.exists(video.thumbnail) and default_storage.exists(video.last_frame)
    assert CreditEntry.objects.filter(video_id=video.public_id).count() == 1
    session.refresh_from_db()
    assert session.status == "completed"


def test_a_vendor_job_is_submitted_once_polled_and_stored(alice, vendor, tmp_path) -> None:
    vendor.FakeProvider.script = [JobStatus(state="processing", progress=40, vendor_status="dreaming"),
                                  JobStatus(state="completed", result_url="fake://result")]
    vendor.FakeProvider.result_bytes = _mp4_bytes(tmp_path)
    session = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v")
    video = session.videos.get()
    assert video.provider == "luma" and video.simulated is False
    tasks.video_start_task.apply(args=(video.pk,))  # submits; the first poll is scheduled with a countdown
    tasks.video_start_task.apply(args=(video.pk,))  # redelivered: already submitted, no second POST
    assert len(vendor.submitted) == 1 and vendor.submitted[0].vendor_model == "ray-flash-2"
    video.refresh_from_db()
    assert video.vendor_task_id == "fake-1" and video.status == "processing"

    assert _poll(video.pk) == 1.0
    video.refresh_from_db()
    assert (video.progress, video.vendor_status) == (40, "dreaming")
    assert _poll(video.pk) is None
    video.refresh_from_db()
    assert video.status == "completed" and video.file_size > 0 and default_storage.exists(video.thumbnail)
    assert (video.width, video.height) == (320, 180)


def test_a_vendor_failure_fails_the_video_and_refunds_once(alice, vendor) -> None:
    vendor.FakeProvider.script = [JobStatus(state="failed", error="Advanced moderation failed", error_code="moderation")]
    session = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v")
    video = session.videos.get()
    tasks.video_start_task.apply(args=(video.pk,))
    from videos.services import video_fail

    _poll(video.pk)
    video_fail(video.pk, error="again", code="again")  # a second failure path: still one refund
    video.refresh_from_db()
    assert (video.status, video.error_code) == ("failed", "moderation")
    assert "content policy" in video.error and "refunded" in video.error  # our words for users
    assert video.error_detail == "Advanced moderation failed"  # the vendor's, for operators
    assert CreditEntry.objects.filter(video_id=video.public_id, kind="refund").count() == 1
    assert credit_balance(user=alice) == Decimal("1000.00")
    session.refresh_from_db()
    assert session.status == "error"


def test_a_refused_submission_fails_without_retrying(alice, vendor) -> None:
    vendor.FakeProvider.submit_error = ProviderError("luma HTTP 400: bad keyframe", code="invalid_parameter")
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    tasks.video_start_task.apply(args=(video.pk,))
    video.refresh_from_db()
    assert video.status == "failed" and video.error_code == "invalid_parameter"
    assert credit_balance(user=alice) == Decimal("1000.00")


def test_a_busy_vendor_keeps_the_video_pending(alice, vendor) -> None:
    from videos.services import Retry, video_start

    vendor.FakeProvider.submit_error = ProviderUnavailable("luma HTTP 429", retry_after=12)
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    with pytest.raises(Retry) as retry:
        video_start(video.pk)
    assert retry.value.countdown == 12
    video.refresh_from_db()
    assert video.status == "pending" and video.vendor_task_id == "" and video.attempts == 1


def test_a_crash_during_submit_never_submits_twice(alice, vendor) -> None:
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    Video.objects.filter(pk=video.pk).update(status="processing", stage="submitting", lease_owner="gone:1:dead",
                                             lease_until=timezone.now() - timedelta(seconds=1))  # died mid-submit
    tasks.video_start_task.apply(args=(video.pk,))
    video.refresh_from_db()
    assert vendor.submitted == [] and video.status == "failed" and video.error_code == "interrupted"
    assert credit_balance(user=alice) == Decimal("1000.00")


def test_the_concurrency_cap_holds_work_in_pending_until_a_slot_frees(alice, vendor, settings, tmp_path) -> None:
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "luma": {"max_concurrent": 1}}
    vendor.FakeProvider.result_bytes = _mp4_bytes(tmp_path)
    first = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    second = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    from videos.services import vendor_dispatch, video_start

    video_start(first.pk)
    assert video_start(second.pk) is None  # no retry chain: it waits for a slot
    second.refresh_from_db()
    assert (second.status, second.stage) == ("pending", "queued") and len(vendor.submitted) == 1
    assert vendor_dispatch("luma") == []
    _poll(first.pk)  # completes: the slot frees
    assert vendor_dispatch("luma") == [second.pk]
    assert vendor_dispatch("luma") == []  # a concurrent dispatch gets nothing: the slot is reserved
    second.refresh_from_db()
    assert (second.status, second.stage) == ("processing", "dispatched")
    video_start(second.pk)
    video_start(second.pk)  # the start message delivered twice: one submission
    second.refresh_from_db()
    assert len(vendor.submitted) == 2 and second.vendor_task_id == "fake-2"


def test_the_reaper_fails_and_refunds_overdue_videos(alice, vendor) -> None:
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    Video.objects.filter(pk=video.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    assert tasks.videos_reap_task() == 1
    video.refresh_from_db()
    assert video.status == "failed" and video.error_code == "timeout"
    assert credit_balance(user=alice) == Decimal("1000.00")


def test_an_expired_result_fails_the_video(alice, vendor) -> None:
    vendor.FakeProvider.download_error = ProviderError("gone", code="result_expired")
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    tasks.video_start_task.apply(args=(video.pk,))

    _poll(video.pk)
    video.refresh_from_db()
    assert video.status == "failed" and video.error_code == "result_expired"


def test_the_sweep_resends_lost_messages(alice, vendor) -> None:
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    Video.objects.filter(pk=video.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    conf = tasks.video_start_task.app.conf
    conf.task_always_eager = True  # run what the sweep sends, here and now
    try:
        assert tasks.videos_poll_due_task() == 1
    finally:
        conf.task_always_eager = False
    video.refresh_from_db()
    assert len(vendor.submitted) == 1 and video.vendor_task_id == "fake-1"


def test_a_submit_that_may_have_reached_the_vendor_is_not_sent_again(alice, vendor) -> None:
    vendor.FakeProvider.submit_error = ProviderUnavailable("luma: ReadTimeout", maybe_submitted=True)
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    tasks.video_start_task.apply(args=(video.pk,))
    tasks.video_start_task.apply(args=(video.pk,))
    video.refresh_from_db()
    assert video.status == "failed" and video.error_code == "interrupted"
    assert credit_balance(user=alice) == Decimal("1000.00")


def test_a_duplicate_poll_before_its_time_asks_the_vendor_nothing(alice, vendor) -> None:
    vendor.FakeProvider.script = [JobStatus(state="processing", progress=10)]
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    tasks.video_start_task.apply(args=(video.pk,))
    Video.objects.filter(pk=video.pk).update(next_poll_at=timezone.now() + timedelta(seconds=30))
    tasks.video_poll_task.apply(args=(video.pk,))  # e.g. the sweep re-sent it while the real one is scheduled
    assert vendor.polled == []


def test_polls_back_off_while_the_vendor_is_unavailable(alice, vendor, monkeypatch) -> None:
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    tasks.video_start_task.apply(args=(video.pk,))

    def unavailable(self, task_id, job):
        raise ProviderUnavailable("luma HTTP 503")

    monkeypatch.setattr(fake.FakeProvider, "poll", unavailable)
    assert [_poll(video.pk) for _ in range(3)] == [2.0, 4.0, 8.0]  # interval 1 s, doubled per failure
    monkeypatch.setattr(fake.FakeProvider, "poll", lambda self, task_id, job: JobStatus(state="processing"))
    assert _poll(video.pk) == 1.0
    video.refresh_from_db()
    assert video.status == "processing" and video.attempts == 0


def test_polls_do_not_read_the_stored_images(alice, vendor, settings) -> None:
    from tests.factories import data_uri, png_bytes

    vendor.FakeProvider.script = [JobStatus(state="processing", progress=10)]
    settings.PROVIDERS = {"runway": "videos.providers.fake.FakeProvider"}
    video = make_session(owner=alice, model="runway-gen-4-turbo", image=data_uri(png_bytes())).videos.get()
    tasks.video_start_task.apply(args=(video.pk,))
    assert vendor.submitted[0].head_image is not None  # the submit gets the image
    from unittest import mock

    from django.core.files.storage import default_storage

    with mock.patch.object(default_storage, "open", side_effect=AssertionError("storage read on a poll")):
        assert _poll(video.pk) == 1.0


def test_an_interrupted_submit_is_found_again_where_the_vendor_can_look_it_up(alice, vendor, monkeypatch) -> None:
    """Adapters that tag jobs with our id (e.g. Kling's external_task_id) offer find_submitted(job)."""
    looked_up = []

    def find_submitted(self, job):
        looked_up.append(job.video_id)
        return "fake-found-7"

    monkeypatch.setattr(fake.FakeProvider, "find_submitted", find_submitted, raising=False)
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    Video.objects.filter(pk=video.pk).update(status="processing", stage="submitting", lease_owner="gone:1:dead",
                                             lease_until=timezone.now() - timedelta(seconds=1))
    tasks.video_start_task.apply(args=(video.pk,))
    video.refresh_from_db()
    assert looked_up == [video.public_id] and vendor.submitted == []
    assert (video.stage, video.vendor_task_id) == ("submitted", "fake-found-7")


def test_a_submit_still_in_hand_is_left_alone(alice, vendor) -> None:
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    Video.objects.filter(pk=video.pk).update(status="processing", stage="submitting", lease_owner="alive:1:run",
                                             lease_until=timezone.now() + timedelta(seconds=60))
    tasks.video_start_task.apply(args=(video.pk,))  # a duplicate delivery while the submit is under way
    video.refresh_from_db()
    assert (video.stage, video.lease_owner) == ("submitting", "alive:1:run") and vendor.submitted == []
