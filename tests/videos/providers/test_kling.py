from __future__ import annotations

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.kling import FakeKling, envelope
from videos.providers.base import InvalidJob, ProviderError, ProviderUnavailable
from videos.providers.kling import KlingProvider


@pytest.fixture
def fake(settings):
    yield from running(FakeKling, settings, secret_key=FakeKling.secret_key)


def test_it_signs_requests_and_sends_text_to_video(fake):
    job = make_job("kling-v1-6-std-5s-720p-t2v", duration=10, aspect_ratio="9:16", options={"strength": 40})
    assert KlingProvider().submit(job) == "text2video/kling-task-1"
    (request,) = fake.posted("/v1/videos/text2video")  # the fake verified the JWT (iss, exp, nbf, HS256)
    assert request.json == {"model_name": "kling-v1-6", "prompt": job.prompt, "duration": "10", "mode": "std",
                            "cfg_scale": 0.4, "aspect_ratio": "9:16", "external_task_id": "vid_test"}


def test_it_sends_images_as_bare_base64_to_image2video(fake):
    job = make_job("kling-v2-5-turbo-5s-1080p-t2v", head_image=image(), tail_image=image(color="blue"))
    assert KlingProvider().submit(job) == "image2video/kling-task-1"
    body = fake.posted("/v1/videos/image2video")[0].json
    assert body == {"model_name": "kling-v2-5-turbo", "prompt": job.prompt, "duration": "5", "mode": "pro",
                    "image": job.head_image.base64(), "image_tail": job.tail_image.base64(),
                    "external_task_id": "vid_test"}


def test_it_picks_image2video_when_a_t2v_model_gets_an_image(fake):
    job = make_job("kling-v2-5-turbo-5s-1080p-t2v", head_image=image())
    assert KlingProvider().submit(job).startswith("image2video/")
    assert fake.posted()[0].json["mode"] == "pro"


@pytest.mark.parametrize("model_id", ["kling-v1-6-std-5s-720p-t2v", "kling-v2-1-master-5s-1080p-i2v"])
def test_it_polls_on_the_path_it_created_on(fake, model_id):
    fake.script = ["queued", "running", "running", "succeeded"]
    provider, job = KlingProvider(), make_job(model_id)
    task_id = provider.submit(job)
    statuses = poll_until_final(provider, task_id, job)
    assert [s.vendor_status for s in statuses] == ["submitted", "processing", "processing", "succeed"]
    assert [s.state for s in statuses] == ["pending", "processing", "processing", "completed"]
    assert {r.path for r in fake.requests if r.method == "GET" and "/cdn/" not in r.path} == {f"/v1/videos/{task_id}"}
    assert download(provider, statuses[-1], job) == VIDEO_BYTES


@pytest.mark.parametrize(("stage", "code"), [("failed", "vendor_error"), ("moderated", "moderation")])
def test_it_reports_failed_tasks(fake, stage, code):
    fake.script = [stage]
    provider, job = KlingProvider(), make_job("kling-v1-6-std-5s-720p-t2v")
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code) == ("failed", code)
    assert status.error in (fake.failure_reason, "Failure to pass the risk control system")


@pytest.mark.parametrize(("http", "code", "error_code"), [
    (400, 1301, "moderation"), (429, 1102, "insufficient_balance"), (400, 1201, "invalid_parameter"),
    (403, 1103, "vendor_error")])
def test_envelope_codes_decide_permanent_failures(fake, http, code, error_code):
    fake.reply(http, envelope(code, "refused"))
    with pytest.raises(ProviderError) as e:
        KlingProvider().submit(make_job("kling-v1-6-std-5s-720p-t2v"))
    assert type(e.value) is ProviderError and e.value.code == error_code
    assert f"error {code}: refused" in e.value.message


@pytest.mark.parametrize("code", [1302, 1303])
def test_rate_and_concurrency_limits_are_retried(fake, code):
    fake.reply(429, envelope(code, "parallel task over resource pack limit"), headers={"Retry-After": "7"})
    with pytest.raises(ProviderUnavailable) as e:
        KlingProvider().submit(make_job("kling-v1-6-std-5s-720p-t2v"))
    assert e.value.retry_after == 7


def test_a_poll_that_lost_its_path_kind_is_refused(fake):
    with pytest.raises(ProviderError):
        KlingProvider().poll("8001", make_job("kling-v1-6-std-5s-720p-t2v"))


def test_it_needs_both_keys(settings):
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "kling": {"api_key": "ak", "secret_key": ""}}
    assert not KlingProvider().is_configured()
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "kling": {"api_key": "ak", "secret_key": "sk"}}
    assert KlingProvider().is_configured()


@pytest.mark.parametrize(("model_id", "overrides", "field"), [
    ("kling-v2-5-turbo-5s-1080p-t2v", {"options": {"strength": 50}}, "strength"),
    ("kling-v1-6-std-5s-720p-t2v", {"options": {"strength": 150}}, "strength"),
    ("kling-v1-6-std-5s-720p-t2v", {"head_image": image(), "tail_image": image()}, "tail_image"),
    ("kling-v2-1-master-5s-1080p-i2v", {"resolution": "720p"}, "resolution"),
    ("kling-v2-1-master-5s-1080p-i2v", {"tail_image": image()}, "tail_image"),  # no end frame on v2.1
    ("kling-v2-5-turbo-5s-1080p-t2v", {"vendor_model": "kling-v2-master", "head_image": image(),
                                       "tail_image": image()}, "tail_image"),
    ("kling-v2-5-turbo-5s-1080p-t2v", {"vendor_model": "kling-v1-6", "duration": 10, "head_image": image(),
                                       "tail_image": image()}, "duration"),
    ("kling-v1-6-std-5s-720p-t2v", {"prompt": "x" * 2501}, "prompt"),
    ("kling-v1-6-std-5s-720p-t2v", {"duration": 8}, "duration"),
    ("kling-v1-6-std-5s-720p-t2v", {"aspect_ratio": "4:3"}, "aspect_ratio"),
    ("kling-v1-6-std-5s-720p-t2v", {"options": {"wanAudio": True}}, "wanAudio"),
])
def test_check_refuses_what_kling_cannot_do(model_id, overrides, field):
    with pytest.raises(InvalidJob) as e:
        KlingProvider().check(make_job(model_id, **overrides))
    assert e.value.field == field


# --- finding a task again by our id (external_task_id) ------------------------------------------------------

@pytest.mark.parametrize(("model_id", "kind"), [("kling-v1-6-std-5s-720p-t2v", "text2video"),
                                                ("kling-v2-1-master-5s-1080p-i2v", "image2video")])
def test_a_created_task_is_found_by_our_video_id(fake, model_id, kind):
    provider, job = KlingProvider(), make_job(model_id, video_id="vid_Found123")
    task_id = provider.submit(job)
    assert fake.posted()[0].json["external_task_id"] == "vid_Found123"
    assert KlingProvider().find_submitted(job) == task_id == f"{kind}/kling-task-1"
    assert fake.requests[-1].path == f"/v1/videos/{kind}/vid_Found123"  # the external id in the path
    assert fake.problems == []


def test_a_task_kling_never_got_is_not_found(fake):
    provider = KlingProvider()
    provider.submit(make_job("kling-v1-6-std-5s-720p-t2v", video_id="vid_other"))
    assert provider.find_submitted(make_job("kling-v1-6-std-5s-720p-t2v", video_id="vid_never")) is None
    assert len(fake.tasks) == 1


def test_a_lookup_kling_cannot_answer_raises_instead_of_guessing(fake):
    fake.reply(503, envelope(5001, "under maintenance"))
    with pytest.raises(ProviderUnavailable):
        KlingProvider().find_submitted(make_job("kling-v1-6-std-5s-720p-t2v"))


def test_a_task_tagged_with_another_id_is_never_taken_up(fake):
    fake.reply(200, envelope(0, "SUCCEED", {"task_id": "9", "task_status": "submitted",
                                            "task_info": {"external_task_id": "vid_someone_else"}}))
    with pytest.raises(ProviderError):
        KlingProvider().find_submitted(make_job("kling-v1-6-std-5s-720p-t2v"))


def test_a_second_create_of_the_same_video_takes_up_the_first_task(fake):
    """Kling refuses a reused external_task_id: the create that was lost reached it, so that task is ours."""
    job = make_job("kling-v1-6-std-5s-720p-t2v", video_id="vid_twice")
    first = KlingProvider().submit(job)
    assert KlingProvider().submit(job) == first
    assert len(fake.tasks) == 1 and len(fake.posted("/v1/videos/text2video")) == 2


def test_a_create_answered_too_late_was_still_made_and_is_found(fake, monkeypatch):
    monkeypatch.setattr(KlingProvider, "timeout", (5.0, 0.3))
    fake.create_delay = 3.0
    job = make_job("kling-v1-6-std-5s-720p-t2v", video_id="vid_slow")
    with pytest.raises(ProviderUnavailable) as e:
        KlingProvider().submit(job)
    assert e.value.maybe_submitted  # the lifecycle must reconcile, not resend blindly
    assert KlingProvider().find_submitted(job) == "text2video/kling-task-1"
