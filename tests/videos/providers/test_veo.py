from __future__ import annotations

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.veo import FakeVeo
from videos.providers.base import InvalidJob, JobStatus, ProviderError
from videos.providers.veo import VeoProvider


@pytest.fixture
def fake(settings):
    yield from running(FakeVeo, settings)


def test_it_sends_a_text_to_video_operation(fake):
    job = make_job("veo-3.1-fast-8s-720p-t2v", duration=6, aspect_ratio="9:16", seed=7,
                   options={"generateAudio": True})
    task_id = VeoProvider().submit(job)
    assert task_id == "models/veo-3.1-fast-generate-preview/operations/veo-task-1"
    (request,) = fake.posted("/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning")
    assert request.headers["x-goog-api-key"] == fake.api_key
    assert request.json == {"instances": [{"prompt": job.prompt}], "parameters": {
        "aspectRatio": "9:16", "durationSeconds": 6, "resolution": "720p"}}  # no seed on the Gemini API


def test_it_sends_first_and_last_frames_inline(fake):
    job = make_job("veo-3.1-8s-1080p-t2v", head_image=image(), tail_image=image(color="blue"))
    VeoProvider().submit(job)
    instance = fake.posted()[0].json["instances"][0]
    assert instance["image"] == {"bytesBase64Encoded": job.head_image.base64(), "mimeType": "image/png"}
    assert instance["lastFrame"] == {"bytesBase64Encoded": job.tail_image.base64(), "mimeType": "image/png"}


def test_it_polls_the_operation_and_downloads_with_the_key(fake):
    fake.script = ["running", "running", "succeeded"]
    provider, job = VeoProvider(), make_job("veo-3.1-8s-1080p-t2v")
    statuses = poll_until_final(provider, provider.submit(job), job)
    assert [s.state for s in statuses] == ["processing", "processing", "completed"]
    assert statuses[-1].result_url == f"{fake.base_url}/files/veotask1:download?alt=media"  # from our base
    assert download(provider, statuses[-1], job) == VIDEO_BYTES
    assert fake.requests[-1].headers["x-goog-api-key"] == fake.api_key


def test_it_never_sends_the_key_to_another_host(fake):
    status = JobStatus(state="completed", result_url="http://127.0.0.2:9/files/x:download?alt=media")
    assert VeoProvider().download_headers(status, make_job("veo-3.1-8s-1080p-t2v")) == {}


@pytest.mark.parametrize(("response", "uri"), [
    ({"generateVideoResponse": {"generatedVideos": [{"video": {"uri": "u1"}}]}}, "u1"),
    ({"generatedVideos": [{"video": {"uri": "u2"}}]}, "u2"),
    ({"videos": [{"gcsUri": "gs://b/u3.mp4"}]}, "gs://b/u3.mp4"),
])
def test_it_falls_back_to_other_result_shapes(fake, response, uri):
    fake.reply(200, {"name": "models/m/operations/o", "done": True, "response": response})
    assert VeoProvider().poll("models/m/operations/o", make_job("veo-3.1-8s-1080p-t2v")).result_url == uri


def test_it_reports_the_safety_filter_as_moderation(fake):
    fake.script = ["moderated"]
    provider, job = VeoProvider(), make_job("veo-3.1-8s-1080p-t2v")
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code, status.error) == (
        "failed", "moderation", "The prompt contains sensitive words.")


def test_it_reports_an_operation_error(fake):
    fake.script = ["failed"]
    provider, job = VeoProvider(), make_job("veo-3.1-8s-1080p-t2v")
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code, status.error) == ("failed", "vendor_error", fake.failure_reason)


@pytest.mark.parametrize(("status", "code"), [("INVALID_ARGUMENT", "invalid_parameter"),
                                              ("FAILED_PRECONDITION", "insufficient_balance"),
                                              ("PERMISSION_DENIED", "vendor_error")])
def test_it_maps_google_error_statuses(fake, status, code):
    fake.reply(400 if status != "PERMISSION_DENIED" else 403,
               {"error": {"code": 400, "message": "nope", "status": status}})
    with pytest.raises(ProviderError) as e:
        VeoProvider().submit(make_job("veo-3.1-8s-1080p-t2v"))
    assert e.value.code == code


@pytest.mark.parametrize(("model_id", "overrides", "field"), [
    ("veo-3.1-8s-1080p-t2v", {"options": {"generateAudio": False}}, "generateAudio"),
    ("veo-3.1-8s-1080p-t2v", {"duration": 6}, "duration"),
    ("veo-3.1-fast-8s-720p-t2v", {"resolution": "4k"}, "resolution"),
    ("veo-3.1-8s-1080p-t2v", {"aspect_ratio": "1:1"}, "aspect_ratio"),
    ("veo-3.1-8s-1080p-t2v", {"tail_image": image()}, "head_image"),
    ("veo-3.1-8s-1080p-t2v", {"vendor_model": "veo-3.0-generate-001", "head_image": image(),
                              "tail_image": image()}, "tail_image"),
])
def test_check_refuses_what_veo_cannot_do(model_id, overrides, field):
    with pytest.raises(InvalidJob) as e:
        VeoProvider().check(make_job(model_id, **overrides))
    assert e.value.field == field
