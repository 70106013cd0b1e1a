from __future__ import annotations

from dataclasses import replace

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.luma import FakeLuma
from videos.providers.base import InvalidJob, ProviderError
from videos.providers.luma import LumaProvider


@pytest.fixture
def fake(settings):
    yield from running(FakeLuma, settings)


def test_it_sends_a_text_to_video_request(fake):
    job = make_job("luma-ray-2.0", duration=9, resolution="4k", aspect_ratio="21:9")
    assert LumaProvider().submit(job) == "luma-task-1"
    (request,) = fake.posted("/dream-machine/v1/generations/video")
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.json == {"generation_type": "video", "prompt": job.prompt, "model": "ray-2", "duration": "9s",
                            "resolution": "4k", "aspect_ratio": "21:9"}


def test_it_sends_keyframes_as_urls_of_our_stored_copies(fake):
    job = make_job("luma-ray-2.0-i2v-5s", tail_image=image(color="blue"))
    LumaProvider().submit(job)
    assert fake.posted()[0].json["keyframes"] == {
        "frame0": {"type": "image", "url": job.head_image.url},
        "frame1": {"type": "image", "url": job.tail_image.url}}


def test_it_goes_from_queued_to_dreaming_to_completed(fake):
    fake.script = ["queued", "running", "running", "succeeded"]
    provider, job = LumaProvider(), make_job("luma-ray-2.0-flash-5s-t2v")
    statuses = poll_until_final(provider, provider.submit(job), job)
    assert [s.vendor_status for s in statuses] == ["queued", "dreaming", "dreaming", "completed"]
    assert [s.state for s in statuses] == ["pending", "processing", "processing", "completed"]
    assert download(provider, statuses[-1], job) == VIDEO_BYTES


@pytest.mark.parametrize(("stage", "code", "text"), [("failed", "vendor_error", "the vendor could not render this"),
                                                     ("moderated", "moderation", "Advanced moderation failed")])
def test_it_reports_failures_with_the_reason(fake, stage, code, text):
    fake.script = [stage]
    provider, job = LumaProvider(), make_job("luma-ray-2.0")
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code, status.error) == ("failed", code, text)


def test_it_maps_402_to_insufficient_balance(fake):
    fake.reply(402, {"detail": "Insufficient credits"})
    with pytest.raises(ProviderError) as e:
        LumaProvider().submit(make_job("luma-ray-2.0"))
    assert e.value.code == "insufficient_balance" and "Insufficient credits" in e.value.message


@pytest.mark.parametrize(("model_id", "overrides", "field"), [
    ("luma-ray-2.0-flash", {"resolution": "4k"}, "resolution"),
    ("luma-ray-2.0", {"duration": 10}, "duration"),
    ("luma-ray-2.0", {"aspect_ratio": "2:1"}, "aspect_ratio"),
    ("luma-ray-2.0", {"options": {"strength": 50}}, "strength"),
])
def test_check_refuses_what_luma_cannot_do(model_id, overrides, field):
    with pytest.raises(InvalidJob) as e:
        LumaProvider().check(make_job(model_id, **overrides))
    assert e.value.field == field


def test_check_accepts_an_image_not_stored_yet():
    LumaProvider().check(make_job("luma-ray-2.0", head_image=replace(image(), url="")))  # the request path


def test_submit_refuses_an_image_without_a_url(fake):
    with pytest.raises(ProviderError) as e:
        LumaProvider().submit(make_job("luma-ray-2.0", head_image=replace(image(), url="")))
    assert e.value.code == "invalid_parameter" and "head_image" in e.value.message
    assert fake.posted() == []
