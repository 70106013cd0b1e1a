from __future__ import annotations

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.wan import FakeWan, dashscope_error
from videos.providers.base import InvalidJob, ProviderError, ProviderUnavailable
from videos.providers.wan import WanProvider


@pytest.fixture
def fake(settings):
    yield from running(FakeWan, settings)


def test_it_sends_wan_2_5_text_to_video_with_a_size_and_audio(fake):
    job = make_job("wan-v2-5-preview", duration=10, aspect_ratio="4:3", seed=3, options={"wanAudio": True})
    assert WanProvider().submit(job) == "wan-task-1"
    (request,) = fake.posted("/api/v1/services/aigc/video-generation/video-synthesis")
    assert request.headers["x-dashscope-async"] == "enable"
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.json == {"model": "wan2.5-t2v-preview", "input": {"prompt": job.prompt},
                            "parameters": {"duration": 10, "size": "1632*1248", "audio": True, "seed": 3}}


def test_wan_2_5_with_an_image_goes_to_i2v_with_a_resolution(fake):
    job = make_job("wan-v2-5-preview", resolution="720p", head_image=image())
    WanProvider().submit(job)
    assert fake.posted()[0].json == {"model": "wan2.5-i2v-preview",
                                     "input": {"prompt": job.prompt, "img_url": job.head_image.data_uri()},
                                     "parameters": {"duration": 5, "resolution": "720P"}}


def test_i2v_flash_sends_the_image_as_a_data_uri(fake):
    job = make_job("wan-wan2.2-i2v-flash", resolution="720p", options={"promptOptimizer": False})
    WanProvider().submit(job)
    body = fake.posted()[0].json
    assert body["model"] == "wan2.2-i2v-flash" and body["input"]["img_url"].startswith("data:image/png;base64,")
    assert body["parameters"] == {"duration": 5, "resolution": "720P", "prompt_extend": False}


def test_kf2v_uses_the_image2video_endpoint_with_frame_urls(fake):
    job = make_job("wan-wan2.1-kf2v-plus-5s-480p")
    WanProvider().submit(job)
    (request,) = fake.posted("/api/v1/services/aigc/image2video/video-synthesis")
    assert request.json == {"model": "wan2.2-kf2v-flash", "input": {
        "prompt": job.prompt, "first_frame_url": job.head_image.url, "last_frame_url": job.tail_image.url},
        "parameters": {"duration": 5, "resolution": "480P"}}


def test_it_goes_from_pending_to_running_to_succeeded(fake):
    fake.script = ["queued", "running", "running", "succeeded"]
    provider, job = WanProvider(), make_job("wan-wan2.2-i2v-flash-5s-480p")
    statuses = poll_until_final(provider, provider.submit(job), job)
    assert [(s.state, s.vendor_status) for s in statuses] == [
        ("pending", "PENDING"), ("processing", "RUNNING"), ("processing", "RUNNING"), ("completed", "SUCCEEDED")]
    assert download(provider, statuses[-1], job) == VIDEO_BYTES


@pytest.mark.parametrize(("stage", "code", "text"), [
    ("moderated", "moderation", "DataInspectionFailed: Output data may contain inappropriate content."),
    ("failed", "vendor_error", "InternalError: the vendor could not render this"),
    ("cancelled", "vendor_error", "the task was cancelled")])
def test_it_reports_failed_tasks(fake, stage, code, text):
    fake.script = [stage]
    provider, job = WanProvider(), make_job("wan-wan2.2-i2v-flash-5s-480p")
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code, status.error) == ("failed", code, text)


def test_an_unknown_task_fails(fake):
    status = WanProvider().poll("gone", make_job("wan-wan2.2-i2v-flash-5s-480p"))
    assert (status.state, status.vendor_status) == ("failed", "UNKNOWN")


@pytest.mark.parametrize(("http", "code", "error_code"), [
    (400, "DataInspectionFailed", "moderation"), (400, "Arrearage", "insufficient_balance"),
    (400, "InvalidParameter", "invalid_parameter"), (403, "AccessDenied.Unpurchased", "vendor_error")])
def test_it_maps_dashscope_error_codes(fake, http, code, error_code):
    fake.reply(http, dashscope_error(code, "refused"))
    with pytest.raises(ProviderError) as e:
        WanProvider().submit(make_job("wan-v2-5-preview"))
    assert type(e.value) is ProviderError and e.value.code == error_code and code in e.value.message


def test_throttling_is_retried(fake):
    fake.reply(429, dashscope_error("Throttling.RateQuota", "Requests rate limit exceeded"),
               headers={"Retry-After": "2"})
    with pytest.raises(ProviderUnavailable) as e:
        WanProvider().submit(make_job("wan-v2-5-preview"))
    assert e.value.retry_after == 2


@pytest.mark.parametrize(("model_id", "overrides", "field"), [
    ("wan-wan2.2-i2v-flash", {"options": {"wanAudio": True}}, "wanAudio"),
    ("wan-wan2.2-i2v-flash", {"resolution": "1080p"}, "resolution"),
    ("wan-wan2.2-i2v-flash", {"duration": 10}, "duration"),
    ("wan-wan2.2-i2v-flash", {"tail_image": image()}, "tail_image"),
    ("wan-v2-5-preview", {"resolution": "480p", "aspect_ratio": "4:3"}, "aspect_ratio"),
    ("wan-wan2.1-kf2v-plus-5s-480p", {"vendor_model": "wan2.1-kf2v-plus"}, "resolution"),
    ("wan-v2-5-preview", {"options": {"strength": 10}}, "strength"),
])
def test_check_refuses_what_wan_cannot_do(model_id, overrides, field):
    with pytest.raises(InvalidJob) as e:
        WanProvider().check(make_job(model_id, **overrides))
    assert e.value.field == field
