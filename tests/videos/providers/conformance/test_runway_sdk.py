"""Runway: the official `runwayml` SDK against our fake, and our adapter's requests against the SDK's."""

from __future__ import annotations

import pytest
import requests
import runwayml
import runwayml.lib.polling
from runwayml import RunwayML

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.runway import FakeRunway
from tests.videos.providers.conformance.conftest import creates, same_request
from videos.providers.base import InvalidJob
from videos.providers.runway import RunwayProvider

HEAD, TAIL = "https://media.example.test/inputs/red.png?sig=abc", "https://media.example.test/inputs/blue.png?sig=abc"
PROMPT = "a paper boat drifts on a pond"


@pytest.fixture
def fake(settings, monkeypatch):
    monkeypatch.setattr(runwayml.lib.polling, "POLL_TIME", 0.01)
    monkeypatch.setattr(runwayml.lib.polling, "POLL_JITTER", 0)
    yield from running(FakeRunway, settings)


def sdk(fake: FakeRunway) -> RunwayML:
    return RunwayML(api_key=fake.api_key, base_url=fake.url, max_retries=0)


# kind -> (SDK call, the same video as our Job)
KINDS = {
    "t2v": (lambda c: c.text_to_video.create(model="veo3.1", prompt_text=PROMPT, ratio="1920:1080", duration=8),
            {"vendor_model": "veo3.1", "type": "t2v", "head_image": None, "resolution": "1080p", "duration": 8}),
    "i2v": (lambda c: c.image_to_video.create(model="gen4_turbo", prompt_image=HEAD, prompt_text=PROMPT,
                                              ratio="1280:720", duration=5, seed=42),
            {"seed": 42}),
    "kf2v": (lambda c: c.image_to_video.create(
                model="veo3.1_fast", ratio="720:1280", duration=6, prompt_text=PROMPT,
                prompt_image=[{"uri": HEAD, "position": "first"}, {"uri": TAIL, "position": "last"}]),
             {"vendor_model": "veo3.1_fast", "type": "kf2v", "aspect_ratio": "9:16", "duration": 6,
                  "tail_image": image(color="blue", url=TAIL)}),
}


def job_for(kind: str):
    return make_job("runway-gen-4-turbo", **{"head_image": image(url=HEAD), **KINDS[kind][1]})


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdk_completes_each_kind_against_the_fake(fake, kind):
    fake.script = ["queued", "throttled", "running:40", "succeeded"]
    created = KINDS[kind][0](sdk(fake))
    task = created.wait_for_task_output(timeout=120)  # the SDK's own polling of GET /v1/tasks/{id}
    assert task.status == "SUCCEEDED" and task.output
    assert requests.get(task.output[0], timeout=10).content == VIDEO_BYTES
    assert len([r for r in fake.requests if r.method == "GET" and "/tasks/" in r.path]) == 4


@pytest.mark.parametrize("kind", KINDS)
def test_our_adapter_sends_what_the_sdk_sends(fake, kind):
    KINDS[kind][0](sdk(fake))
    provider, job = RunwayProvider(), job_for(kind)
    task_id = provider.submit(job)
    sdk_request, ours = creates(fake)
    same_request(sdk_request, ours, headers=("authorization", "x-runway-version", "content-type"))
    fake.script = ["succeeded"]
    status = poll_until_final(provider, task_id, job)[-1]
    assert download(provider, status, job) == VIDEO_BYTES


def test_the_sdk_cancels_with_the_route_our_adapter_uses(fake):
    task_id = sdk(fake).image_to_video.create(model="gen4_turbo", prompt_image=HEAD, ratio="1280:720").id
    sdk(fake).tasks.delete(task_id)
    RunwayProvider().cancel(RunwayProvider().submit(job_for("i2v")), job_for("i2v"))
    sdk_delete, ours = [r for r in fake.requests if r.method == "DELETE"]
    assert (ours.method, ours.path.rsplit("/", 1)[0]) == (sdk_delete.method, sdk_delete.path.rsplit("/", 1)[0])
    assert ours.headers["authorization"] == sdk_delete.headers["authorization"]
    assert ours.headers["x-runway-version"] == sdk_delete.headers["x-runway-version"]


@pytest.mark.parametrize(("call", "field"), [
    (lambda c: c.text_to_video.create(model="veo3.1", prompt_text=PROMPT, ratio="1280:720", duration=5), "duration"),
    (lambda c: c.text_to_video.create(model="veo3.1", prompt_text=PROMPT, ratio="960:960"), "ratio"),
    (lambda c: c.image_to_video.create(model="gen4_turbo", ratio="1280:720", prompt_image=[
        {"uri": HEAD, "position": "first"}, {"uri": TAIL, "position": "last"}]), "positions"),
    (lambda c: c.image_to_video.create(model="gen4_turbo", ratio="1280:720", prompt_image=HEAD,
                                       prompt_text="😀" * 501), "UTF-16"),
])
def test_the_fake_refuses_what_runway_refuses_in_runways_error_shape(fake, call, field):
    with pytest.raises(runwayml.BadRequestError) as e:
        call(sdk(fake))
    assert e.value.status_code == 400 and field in e.value.body["error"]
    fake.problems.clear()  # expected refusals


@pytest.mark.parametrize(("overrides", "field"), [
    ({"vendor_model": "veo3.1", "duration": 5}, "duration"),
    ({"vendor_model": "veo3.1", "aspect_ratio": "1:1"}, "aspect_ratio"),
    ({"vendor_model": "veo3.1", "resolution": "4k"}, "resolution"),
    ({"vendor_model": "gen4_turbo", "resolution": "1080p"}, "resolution"),
    ({"vendor_model": "gen4_turbo", "tail_image": image(color="blue")}, "tail_image"),
    ({"vendor_model": "gen4_turbo", "head_image": None}, "head_image"),
    ({"prompt": "😀" * 501}, "prompt"),  # 501 characters, 1002 UTF-16 code units
    ({"vendor_model": "gen4.5", "prompt": " "}, "prompt"),
    ({"vendor_model": "veo3"}, "model"),  # gone from the API (runwayml 5.24 has no veo3 create)
])
def test_check_mirrors_runways_per_model_limits(overrides, field):
    with pytest.raises(InvalidJob) as e:
        RunwayProvider().check(make_job("runway-gen-4-turbo", **overrides))
    assert e.value.field == field


def test_a_prompt_of_1000_utf16_units_is_accepted(fake):
    job = make_job("runway-gen-4-turbo", prompt="é" * 1000)  # 1000 code units, 2000 UTF-8 bytes
    RunwayProvider().submit(job)
    assert creates(fake)[0].json["promptText"] == job.prompt


@pytest.mark.parametrize(("stage", "code"), [("failed", "INTERNAL.BAD_OUTPUT"), ("moderated", "SAFETY.INPUT.TEXT")])
def test_the_sdk_reads_the_fakes_failures(fake, stage, code):
    fake.script = [stage]
    with pytest.raises(runwayml.TaskFailedError) as e:
        sdk(fake).image_to_video.create(model="gen4_turbo", prompt_image=HEAD, ratio="1280:720").wait_for_task_output()
    assert e.value.task_details.status == "FAILED" and e.value.task_details.failure_code == code


def test_every_task_answer_of_the_fake_validates_against_the_sdks_model(fake):
    from pydantic import TypeAdapter
    from runwayml.types import TaskRetrieveResponse

    fake.script = ["queued", "throttled", "running:50", "succeeded"]
    client = sdk(fake)
    ids = [client.image_to_video.create(model="gen4_turbo", prompt_image=HEAD, ratio="1280:720").id]
    for stage in ("failed", "moderated"):
        fake.script = [stage]
        ids.append(client.image_to_video.create(model="gen4_turbo", prompt_image=HEAD, ratio="1280:720").id)
    seen = set()
    for task_id in ids:
        for _ in range(4):
            raw = client.tasks.with_raw_response.retrieve(task_id).http_response.json()
            seen.add(type(TypeAdapter(TaskRetrieveResponse).validate_python(raw)).__name__)
    assert seen == {"Pending", "Throttled", "Running", "Succeeded", "Failed"}
