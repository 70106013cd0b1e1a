from __future__ import annotations

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.sora import FakeSora
from videos.providers.base import InvalidJob, ProviderError, ProviderUnavailable
from videos.providers.sora import SoraProvider


@pytest.fixture
def fake(settings):
    yield from running(FakeSora, settings)


def test_it_sends_seconds_as_a_string_and_size_in_pixels(fake):
    job = make_job("sora-2-pro", duration=8, aspect_ratio="9:16")
    assert SoraProvider().submit(job) == "sora-task-1"
    (request,) = fake.posted("/v1/videos")
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.content_type == "multipart/form-data"  # as the openai SDK sends it
    assert fake.body(request) == {"model": "sora-2-pro", "prompt": job.prompt, "seconds": "8", "size": "720x1280"}


def test_it_uploads_the_image_at_the_videos_size(fake):
    job = make_job("sora-2-4s-720p-t2v", head_image=image(width=1280, height=720))
    SoraProvider().submit(job)
    assert fake.body(fake.posted()[0])["input_reference"] == ("input_reference.png", "image/png", job.head_image.data)


def test_it_reports_progress_and_downloads_content_with_the_key(fake):
    fake.script = ["queued", "running:10", "running:60", "succeeded"]
    provider, job = SoraProvider(), make_job("sora-2-4s-720p-t2v")
    statuses = poll_until_final(provider, provider.submit(job), job)
    assert [(s.state, s.progress, s.vendor_status) for s in statuses] == [
        ("pending", 0, "queued"), ("processing", 10, "in_progress"), ("processing", 60, "in_progress"),
        ("completed", 100, "completed")]
    assert statuses[-1].result_url == f"{fake.base_url}/videos/sora-task-1/content"
    assert download(provider, statuses[-1], job) == VIDEO_BYTES
    assert fake.requests[-1].headers["authorization"] == f"Bearer {fake.api_key}"


@pytest.mark.parametrize(("stage", "code"), [("failed", "vendor_error"), ("moderated", "moderation")])
def test_it_reports_failures(fake, stage, code):
    fake.script = [stage]
    provider, job = SoraProvider(), make_job("sora-2-4s-720p-t2v")
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code) == ("failed", code)


def test_insufficient_quota_is_not_retried(fake):
    fake.reply(429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                               "param": None, "code": "insufficient_quota"}})
    with pytest.raises(ProviderError) as e:
        SoraProvider().submit(make_job("sora-2-4s-720p-t2v"))
    assert type(e.value) is ProviderError and e.value.code == "insufficient_balance"


def test_a_rate_limit_is_retried(fake):
    fake.reply(429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
               headers={"Retry-After": "20"})
    with pytest.raises(ProviderUnavailable) as e:
        SoraProvider().submit(make_job("sora-2-4s-720p-t2v"))
    assert e.value.retry_after == 20


@pytest.mark.parametrize(("model_id", "overrides", "field"), [
    ("sora-2-4s-720p-t2v", {"aspect_ratio": "1:1"}, "aspect_ratio"),
    ("sora-2-4s-720p-t2v", {"resolution": "1024p"}, "resolution"),
    ("sora-2-4s-720p-t2v", {"duration": 10}, "duration"),
    ("sora-2-pro", {"head_image": image(), "tail_image": image()}, "tail_image"),
    ("sora-2-pro", {"options": {"generateAudio": True}}, "generateAudio"),
])
def test_check_refuses_what_sora_cannot_do(model_id, overrides, field):
    with pytest.raises(InvalidJob) as e:
        SoraProvider().check(make_job(model_id, **overrides))
    assert e.value.field == field


def test_sora_2_pro_takes_the_large_sizes(fake):
    SoraProvider().submit(make_job("sora-2-pro", resolution="1024p"))
    assert fake.body(fake.posted()[0])["size"] == "1792x1024"
