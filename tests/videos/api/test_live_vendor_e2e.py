"""End to end with a live vendor: the API, the tasks, a Luma adapter talking HTTP to a fake Luma on 127.0.0.1,
and our storage. Tasks run in-process; their follow-up messages are captured instead of sent to a broker."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.fakevendors import running
from tests.fakevendors.luma import FakeLuma
from videos import tasks
from videos.models import Video
from videos.providers.luma import LumaProvider

pytestmark = pytest.mark.django_db
MODEL = "luma-ray-2.0-flash-5s-t2v"


@pytest.fixture
def luma(settings, tmp_path):
    from videos.providers.render import RenderSpec, render

    for fake in running(FakeLuma, settings):
        out = tmp_path / "vendor.mp4"
        render(RenderSpec(prompt="vendor result ocean", width=320, height=180, duration=1.0), video_path=str(out),
               thumbnail_path=str(tmp_path / "t.jpg"), last_frame_path=str(tmp_path / "l.png"))
        fake.video = out.read_bytes()  # the pipeline probes the result: it must be a real MP4
        yield fake


@pytest.fixture
def scheduled(monkeypatch):
    """Messages the tasks would send (task name, args, countdown), instead of a broker."""
    sent: list[tuple[str, tuple, float | None]] = []
    for task in (tasks.video_start_task, tasks.video_poll_task):
        monkeypatch.setattr(task, "apply_async", lambda args, countdown=None, _n=task.name, **kw:
                            sent.append((_n, tuple(args), countdown)))
        monkeypatch.setattr(task, "delay", lambda *args, _n=task.name: sent.append((_n, args, None)))
    return sent


def _generate(alice_api, django_capture_on_commit_callbacks) -> Video:
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_api.post("/videos/generate", {"prompt": "a lighthouse at dusk", "model": MODEL})
    assert r.status_code == 201, r.content
    return Video.objects.get(public_id=r.json()["video_id"])


def test_a_live_vendor_video_goes_from_generate_to_a_stored_download(
        alice, alice_api, luma, scheduled, django_capture_on_commit_callbacks, client):
    luma.script = ["queued", "running", "succeeded"]
    video = _generate(alice_api, django_capture_on_commit_callbacks)
    assert (video.provider, video.simulated) == ("luma", False)
    assert scheduled == [("videos.tasks.video_start_task", (video.pk,), None)]

    tasks.video_start_task(video.pk)
    video.refresh_from_db()
    assert len(scheduled) == 1 and video.next_poll_at is not None  # no poll message: the poller polls when due
    assert abs((video.next_poll_at - video.updated_at).total_seconds() - LumaProvider.poll_interval) < 1
    (request,) = luma.posted("/dream-machine/v1/generations/video")
    assert request.json["model"] == "ray-flash-2" and request.json["prompt"] == "a lighthouse at dusk"
    for _ in range(3):  # one poll at a time (what the poller does when each is due) until the video is final
        Video.objects.filter(pk=video.pk).update(next_poll_at=None)  # due now
        tasks.video_poll_task(video.pk)
    video.refresh_from_db()
    assert video.status == "completed", (video.error_code, video.error)
    assert video.vendor_task_id == "luma-task-1" and video.processing_time is not None
    assert len(luma.posted()) == 1

    body = alice_api.get(f"/videos/{video.public_id}").json()
    video_url = body.get("video_url") or body["video"]["video_url"]
    assert video_url and not video_url.startswith(luma.url)  # served by us, not the vendor's expiring URL
    split = urlsplit(video_url)
    r = client.get(f"{split.path}?{split.query}")
    assert r.status_code == 200 and b"".join(r.streaming_content if r.streaming else [r.content]) == luma.video

    charges = CreditEntry.objects.filter(video_id=video.public_id)
    assert [e.kind for e in charges] == ["charge"]
    assert credit_balance(user=alice) == Decimal("1000") - video.credits_used


def test_a_worker_killed_between_submit_and_poll_does_not_submit_twice(
        alice, alice_api, luma, scheduled, django_capture_on_commit_callbacks):
    video = _generate(alice_api, django_capture_on_commit_callbacks)
    tasks.video_start_task(video.pk)  # submitted and saved; then the worker dies before its poll message
    video.refresh_from_db()
    assert video.vendor_task_id == "luma-task-1" and video.status == "processing"
    tasks.video_start_task(video.pk)  # acks_late: the start message is delivered again
    tasks.videos_poll_due_task()  # and the sweep runs
    assert len(luma.posted()) == 1
    video.refresh_from_db()
    assert video.vendor_task_id == "luma-task-1"
