from __future__ import annotations

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.runway import FakeRunway
from videos.providers.base import InvalidJob, ProviderError
from videos.providers.runway import RunwayProvider


@pytest.fixture
def fake(settings):
    yield from running(FakeRunway, settings)


def test_it_sends_an_image_to_video_request_with_the_version_header(fake):
    job = make_job("runway-gen-4-turbo", duration=10, aspect_ratio="21:9", seed=42)
    assert RunwayProvider().submit(job) == "runway-task-1"
    (request,) = fake.posted("/v1/image_to_video")
    assert request.headers["x-runway-version"] == "2024-11-06"
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.json == {"model": "gen4_turbo", "promptText": job.prompt, "duration": 10, "seed": 42,
                            "ratio": "1584:672", "promptImage": job.head_image.url}


@pytest.mark.parametrize(("ratio", "runway_ratio"), [("16:9", "1280:720"), ("9:16", "720:1280"),
                                                     ("4:3", "1104:832"), ("3:4", "832:1104"), ("1:1", "960:960")])
def test_it_translates_ratios(fake, ratio, runway_ratio):
    RunwayProvider().submit(make_job("runway-gen-4-turbo", aspect_ratio=ratio))
    assert fake.posted()[0].json["ratio"] == runway_ratio


def test_veo_3_1_on_runway_takes_first_and_last_frames(fake):
    job = make_job("runway-gen-4-turbo", vendor_model="veo3.1", duration=8, tail_image=image(color="blue"))
    RunwayProvider().submit(job)
    assert fake.posted()[0].json["promptImage"] == [{"uri": job.head_image.url, "position": "first"},
                                                    {"uri": job.tail_image.url, "position": "last"}]


def test_text_only_models_use_text_to_video(fake):
    RunwayProvider().submit(make_job("runway-gen-4-turbo", vendor_model="gen4.5", head_image=None))
    assert fake.posted("/v1/text_to_video")[0].json["ratio"] == "1280:720"


def test_it_goes_through_pending_throttled_running_with_progress(fake):
    fake.script = ["queued", "throttled", "running:0", "running:45", "running:90", "succeeded"]
    provider, job = RunwayProvider(), make_job("runway-gen-4-turbo")
    statuses = poll_until_final(provider, provider.submit(job), job)
    assert [(s.state, s.progress) for s in statuses] == [
        ("pending", None), ("pending", None), ("processing", 0), ("processing", 45), ("processing", 90),
        ("completed", 100)]
    assert download(provider, statuses[-1], job) == VIDEO_BYTES


@pytest.mark.parametrize(("stage", "code"), [("failed", "vendor_error"), ("moderated", "moderation"),
                                             ("cancelled", "vendor_error")])
def test_it_reports_failures(fake, stage, code):
    fake.script = [stage]
    provider, job = RunwayProvider(), make_job("runway-gen-4-turbo")
    status = provider.poll(provider.submit(job), job)
    assert (status.state, status.error_code) == ("failed", code)
    if stage == "moderated":
        assert status.error == "the vendor could not render this (SAFETY.INPUT.TEXT)"


def test_a_400_names_the_problem(fake):
    fake.reply(400, {"error": "Invalid asset aspect ratio", "issues": [{"path": ["promptImage"]}]})
    with pytest.raises(ProviderError) as e:
        RunwayProvider().submit(make_job("runway-gen-4-turbo"))
    assert e.value.code == "invalid_parameter" and "Invalid asset aspect ratio" in e.value.message


@pytest.mark.parametrize(("overrides", "field"), [
    ({"head_image": None}, "head_image"),
    ({"aspect_ratio": "2:1"}, "aspect_ratio"),
    ({"resolution": "1080p"}, "resolution"),
    ({"duration": 12}, "duration"),
    ({"tail_image": image()}, "tail_image"),
    ({"options": {"generateAudio": True}}, "generateAudio"),
])
def test_check_refuses_what_runway_cannot_do(overrides, field):
    with pytest.raises(InvalidJob) as e:
        RunwayProvider().check(make_job("runway-gen-4-turbo", **overrides))
    assert e.value.field == field
