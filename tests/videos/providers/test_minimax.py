from __future__ import annotations

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.minimax import FakeMiniMax, base_resp
from videos.providers.base import InvalidJob, ProviderError, ProviderUnavailable
from videos.providers.minimax import MiniMaxProvider


@pytest.fixture
def fake(settings):
    yield from running(FakeMiniMax, settings)


def test_it_sends_a_text_to_video_request(fake):
    job = make_job("minimax-hailuo-2.3-6s-768p-t2v", duration=10, options={"promptOptimizer": False})
    task_id = MiniMaxProvider().submit(job)
    assert task_id == "minimax-task-1"
    (request,) = fake.posted("/v1/video_generation")
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.json == {"model": "MiniMax-Hailuo-2.3", "prompt": job.prompt, "duration": 10,
                            "resolution": "768P", "prompt_optimizer": False}


def test_it_sends_first_and_last_frames_as_data_uris(fake):
    job = make_job("minimax-hailuo-02-6s-768p-i2v", resolution="1080p", tail_image=image(color="blue"))
    MiniMaxProvider().submit(job)
    body = fake.posted()[0].json
    assert body["model"] == "MiniMax-Hailuo-02" and body["resolution"] == "1080P" and body["duration"] == 6
    assert body["first_frame_image"] == job.head_image.data_uri()
    assert body["last_frame_image"] == job.tail_image.data_uri()


def test_it_maps_480p_to_512p(fake):
    MiniMaxProvider().submit(make_job("minimax-hailuo-02-6s-480p-i2v"))
    assert fake.posted()[0].json["resolution"] == "512P"


def test_it_sends_2_3_fast_without_an_image_to_2_3(fake):
    provider = MiniMaxProvider()
    provider.submit(make_job("minimax-hailuo-2.3-fast-6s-768p-t2v"))
    provider.submit(make_job("minimax-hailuo-2.3-fast-6s-768p-t2v", head_image=image()))
    assert [r.json["model"] for r in fake.posted()] == ["MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast"]


def test_it_goes_from_queued_to_processing_to_a_download_url(fake):
    fake.script = ["queued", "queued", "running", "running", "succeeded"]
    provider = MiniMaxProvider()
    job = make_job("minimax-hailuo-02-6s-768p-t2v")
    statuses = poll_until_final(provider, provider.submit(job), job)
    assert [(s.state, s.vendor_status) for s in statuses] == [
        ("pending", "Queueing"), ("pending", "Queueing"), ("processing", "Processing"),
        ("processing", "Processing"), ("completed", "Success")]
    assert statuses[-1].result_url == f"{fake.url}/cdn/minimax-task-1.mp4?sig=presigned"
    assert fake.requests[-1].query == {"file_id": "file-minimax-task-1"}
    assert download(provider, statuses[-1], job) == VIDEO_BYTES  # the CDN check: no key sent there


def test_it_reports_a_failed_task_with_the_vendor_reason(fake):
    fake.script = ["running", "failed"]
    fake.failure_reason = "render crashed"
    job = make_job("minimax-hailuo-02-6s-768p-t2v")
    provider = MiniMaxProvider()
    status = poll_until_final(provider, provider.submit(job), job)[-1]
    assert (status.state, status.error_code, status.vendor_status) == ("failed", "vendor_error", "Fail")
    assert "render crashed" in status.error


def test_it_treats_failed_like_fail(fake):
    fake.reply(200, {"task_id": "t", "status": "Failed", "base_resp": {"status_code": 0, "status_msg": ""}})
    status = MiniMaxProvider().poll("t", make_job("minimax-hailuo-02-6s-768p-t2v"))
    assert status.state == "failed"


def test_it_reports_generated_video_moderation(fake):
    fake.script = ["moderated"]
    fake.failure_reason = "output video sensitive"
    job = make_job("minimax-hailuo-02-6s-768p-t2v")
    provider = MiniMaxProvider()
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code, status.error) == ("failed", "moderation", "output video sensitive")


@pytest.mark.parametrize(("code", "error_code"), [(1008, "insufficient_balance"), (1026, "moderation"),
                                                  (2013, "invalid_parameter"), (1004, "auth"), (2049, "auth")])
def test_it_maps_errors_in_http_200_bodies(fake, code, error_code):
    fake.reply(200, base_resp(code, "nope"))
    with pytest.raises(ProviderError) as e:
        MiniMaxProvider().submit(make_job("minimax-hailuo-02-6s-768p-t2v"))
    assert type(e.value) is ProviderError and e.value.code == error_code


@pytest.mark.parametrize("code", [1002, 1039, 1000])
def test_it_retries_rate_limits_reported_in_http_200_bodies(fake, code):
    fake.reply(200, base_resp(code, "rate limit exceeded"))
    with pytest.raises(ProviderUnavailable):
        MiniMaxProvider().submit(make_job("minimax-hailuo-02-6s-768p-t2v"))


@pytest.mark.parametrize(("model_id", "overrides", "field"), [
    ("minimax-hailuo-02-6s-768p-i2v", {"resolution": "1080p", "duration": 10}, "duration"),
    ("minimax-hailuo-2.3-6s-768p-t2v", {"resolution": "480p"}, "resolution"),
    ("minimax-hailuo-02-6s-768p-t2v", {"resolution": "480p"}, "head_image"),
    ("minimax-hailuo-02-6s-768p-t2v", {"duration": 8}, "duration"),
    ("minimax-hailuo-02-6s-480p-i2v", {"tail_image": image()}, "tail_image"),
    ("minimax-hailuo-2.3-fast-6s-768p-t2v", {"head_image": image(), "tail_image": image()}, "tail_image"),
    ("minimax-hailuo-02-6s-768p-t2v", {"options": {"generateAudio": True}}, "generateAudio"),
])
def test_check_refuses_what_minimax_cannot_do(model_id, overrides, field):
    with pytest.raises(InvalidJob) as e:
        MiniMaxProvider().check(make_job(model_id, **overrides))
    assert e.value.field == field


def test_it_is_configured_only_with_a_key(settings):
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "minimax": {"api_key": "", "base_url": ""}}
    assert not MiniMaxProvider().is_configured()
    assert MiniMaxProvider().base_url == "https://api.minimax.io"
