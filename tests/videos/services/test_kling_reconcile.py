"""A Kling submit whose answer never arrives (issue 8): the lifecycle finds the task again by our
external_task_id instead of guessing. Real KlingProvider, real lifecycle, fake Kling on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.factories import make_session
from tests.fakevendors import running, vendor_mp4
from tests.fakevendors.kling import FakeKling
from videos import tasks
from videos.models import Video
from videos.providers.kling import KlingProvider

pytestmark = pytest.mark.django_db
MODEL = "kling-v1-6-std-5s-720p-t2v"


@pytest.fixture
def kling(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(KlingProvider, "timeout", (5.0, 0.5))  # read timeout well below the fake's delay
    for fake in running(FakeKling, settings, secret_key=FakeKling.secret_key):
        mp4 = vendor_mp4(tmp_path)
        fake.video = mp4
        fake.script = ["running:40", "succeeded"]
        yield fake


def _poll_to_the_end(video: Video) -> Video:
    from videos.services import video_poll

    for _ in range(10):
        Video.objects.filter(pk=video.pk).update(next_poll_at=None)
        if video_poll(video.pk) is None:
            break
    video.refresh_from_db()
    return video


def test_a_create_answered_too_late_is_taken_up_not_interrupted(alice, kling) -> None:
    kling.create_delay = 3.0  # Kling makes the task, its answer arrives after our read timeout
    video = make_session(owner=alice, model=MODEL).videos.get()
    assert video.provider == "kling"
    tasks.video_start_task.apply(args=(video.pk,))
    video.refresh_from_db()
    assert (video.stage, video.vendor_task_id) == ("submitted", "text2video/kling-task-1")
    assert kling.external == {video.public_id: "kling-task-1"}

    video = _poll_to_the_end(video)
    assert video.status == "completed" and video.error_code != "interrupted"
    assert default_storage.exists(video.file)
    assert len(kling.tasks) == 1 and len(kling.posted("/v1/videos/text2video")) == 1  # one vendor job
    entries = list(CreditEntry.objects.filter(video_id=video.public_id).values_list("kind", flat=True))
    assert entries == ["charge"]  # charged once, never refunded
    assert credit_balance(user=alice) == Decimal(1000) - video.credits_used


def test_a_create_lost_before_kling_made_it_is_sent_once_more(alice, kling) -> None:
    """The lookup says Kling has no such task: sending it now cannot make a second one (and if the first
    create lands after all, Kling refuses the reused external_task_id)."""
    # Both creates are answered late; the first made nothing (lost before Kling), the second made the task.
    kling.create_delay, kling.lost_creates = 3.0, 1
    video = make_session(owner=alice, model=MODEL).videos.get()
    tasks.video_start_task.apply(args=(video.pk,))
    video.refresh_from_db()
    assert video.stage == "submitted" and len(kling.tasks) == 1
    assert len(kling.posted("/v1/videos/text2video")) == 2

    video = _poll_to_the_end(video)
    assert video.status == "completed"
    assert list(CreditEntry.objects.filter(video_id=video.public_id).values_list("kind", flat=True)) == ["charge"]


def test_a_second_unknown_outcome_fails_and_refunds_once_as_interrupted(alice, kling) -> None:
    """Sent once more after a lookup found nothing, and again no answer and no task: the video fails with
    code interrupted and is refunded once; no third create, no endless submit/lookup loop."""
    kling.create_delay, kling.lost_creates = 3.0, 2  # both creates answered late, neither made a task
    video = make_session(owner=alice, model=MODEL).videos.get()
    tasks.video_start_task.apply(args=(video.pk,))
    tasks.video_start_task.apply(args=(video.pk,))  # a redelivery changes nothing
    video.refresh_from_db()
    assert (video.status, video.error_code) == ("failed", "interrupted")
    assert "interrupted" in video.error and "refunded" in video.error
    assert len(kling.posted("/v1/videos/text2video")) == 2 and kling.tasks == {}
    entries = sorted(CreditEntry.objects.filter(video_id=video.public_id).values_list("kind", flat=True))
    assert entries == ["charge", "refund"] and credit_balance(user=alice) == Decimal(1000)
