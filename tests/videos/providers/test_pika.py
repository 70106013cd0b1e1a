from __future__ import annotations

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.pika import FakeFal
from videos.providers.base import InvalidJob, ProviderError, ProviderUnavailable
from videos.providers.pika import PikaProvider


@pytest.fixture
def fake(settings):
    yield from running(FakeFal, settings)


def test_it_submits_text_to_video_to_the_fal_queue(fake):
    job = make_job("pika-v2.2-5s-720p-t2v", duration=10, resolution="1080p", aspect_ratio="9:16", seed=9)
    assert PikaProvider().submit(job) == "fal-ai/pika|pika-task-1"
    (request,) = fake.posted("/fal-ai/pika/v2.2/text-to-video")
    assert request.headers["authorization"] == f"Key {fake.api_key}"
    assert request.json == {"prompt": job.prompt, "resolution": "1080p", "seed": 9, "duration": 10,
                            "aspect_ratio": "9:16"}


def test_it_sends_the_image_url_to_image_to_video(fake):
    job = make_job("pika-v2.2-5s-720p-i2v")
    PikaProvider().submit(job)
    assert fake.posted("/fal-ai/pika/v2.2/image-to-video")[0].json == {
        "prompt": job.prompt, "resolution": "720p", "duration": 5, "image_url": job.head_image.url}


def test_it_sends_both_frames_to_pikaframes(fake):
    job = make_job("pika-v2.2-5s-720p-kf2v")
    PikaProvider().submit(job)
    assert fake.posted("/fal-ai/pika/v2.2/pikaframes")[0].json == {
        "prompt": job.prompt, "resolution": "720p", "image_urls": [job.head_image.url, job.tail_image.url],
        "transitions": [{"duration": 5, "prompt": job.prompt}]}


def test_it_polls_the_app_status_url_then_fetches_the_result(fake):
    fake.script = ["queued", "running", "running", "succeeded"]
    provider, job = PikaProvider(), make_job("pika-v2.2-5s-720p-i2v")
    statuses = poll_until_final(provider, provider.submit(job), job)
    assert [(s.state, s.vendor_status) for s in statuses] == [
        ("pending", "IN_QUEUE"), ("processing", "IN_PROGRESS"), ("processing", "IN_PROGRESS"),
        ("completed", "COMPLETED")]
    assert [r.path for r in fake.requests[-2:]] == ["/fal-ai/pika/requests/pika-task-1/status",
                                                    "/fal-ai/pika/requests/pika-task-1"]
    assert download(provider, statuses[-1], job) == VIDEO_BYTES


def test_a_moderated_result_fails_the_video(fake):
    fake.script = ["moderated"]
    provider, job = PikaProvider(), make_job("pika-v2.2-5s-720p-t2v")
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code) == ("failed", "moderation")
    assert "NSFW" in status.error


def test_a_5xx_on_the_result_is_retried(fake):
    fake.script = ["failed"]
    provider, job = PikaProvider(), make_job("pika-v2.2-5s-720p-t2v")
    with pytest.raises(ProviderUnavailable):
        provider.poll(provider.submit(job), job)


def test_an_error_on_the_status_body_fails_the_video(fake):
    fake.reply(200, {"status": "COMPLETED", "request_id": "r", "error": "generation failed: bad input"})
    status = PikaProvider().poll("fal-ai/pika|r", make_job("pika-v2.2-5s-720p-t2v"))
    assert (status.state, status.error) == ("failed", "generation failed: bad input")


def test_an_unreadable_task_id_is_refused(fake):
    with pytest.raises(ProviderError):
        PikaProvider().poll("r", make_job("pika-v2.2-5s-720p-t2v"))


@pytest.mark.parametrize(("model_id", "overrides", "field"), [
    ("pika-v2.2-5s-720p-t2v", {"aspect_ratio": "21:9"}, "aspect_ratio"),
    ("pika-v2.2-5s-720p-t2v", {"resolution": "480p"}, "resolution"),
    ("pika-v2.2-5s-720p-i2v", {"tail_image": image()}, "tail_image"),
    ("pika-v2.2-5s-720p-kf2v", {"tail_image": None}, "tail_image"),
    ("pika-v2.2-5s-720p-i2v", {"duration": 8}, "duration"),
    ("pika-v2.2-5s-720p-i2v", {"options": {"promptOptimizer": True}}, "promptOptimizer"),
])
def test_check_refuses_what_pika_cannot_do(model_id, overrides, field):
    with pytest.raises(InvalidJob) as e:
        PikaProvider().check(make_job(model_id, **overrides))
    assert e.value.field == field
