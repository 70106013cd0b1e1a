"""Luma: the official `lumaai` SDK against our fake, and our adapter's requests against the SDK's."""

from __future__ import annotations

import lumaai
import pytest
import requests
from lumaai import LumaAI

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.luma import FakeLuma
from tests.videos.providers.conformance.conftest import creates, same_request
from videos.providers.base import InvalidJob
from videos.providers.luma import LumaProvider

HEAD, TAIL = "https://media.example.test/inputs/red.png?sig=abc", "https://media.example.test/inputs/blue.png?sig=abc"
PROMPT = "a paper boat drifts on a pond"
FRAME0 = {"frame0": {"type": "image", "url": HEAD}}
FRAMES = {**FRAME0, "frame1": {"type": "image", "url": TAIL}}


@pytest.fixture
def fake(settings):
    yield from running(FakeLuma, settings)


def sdk(fake: FakeLuma) -> LumaAI:
    return LumaAI(auth_token=fake.api_key, base_url=fake.base_url, max_retries=0)


COMMON = {"generation_type": "video", "prompt": PROMPT}
KINDS = {  # kind -> (SDK create arguments, catalog model + Job overrides)
    "t2v": ({"model": "ray-flash-2", "duration": "9s", "resolution": "1080p", "aspect_ratio": "21:9"},
            ("luma-ray-2.0-flash", {"duration": 9, "resolution": "1080p", "aspect_ratio": "21:9"})),
    "i2v": ({"model": "ray-2", "duration": "5s", "resolution": "720p", "aspect_ratio": "16:9", "keyframes": FRAME0},
            ("luma-ray-2.0-i2v-5s", {"head_image": image(url=HEAD)})),
    "kf2v": ({"model": "ray-2", "duration": "5s", "resolution": "4k", "aspect_ratio": "9:16", "keyframes": FRAMES},
             ("luma-ray-2.0", {"resolution": "4k", "aspect_ratio": "9:16", "head_image": image(url=HEAD),
                               "tail_image": image(color="blue", url=TAIL)})),
}


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdk_completes_each_kind_against_the_fake(fake, kind):
    fake.script = ["queued", "running", "running", "succeeded"]
    client = sdk(fake)
    generation = client.generations.video.create(**COMMON, **KINDS[kind][0])
    assert generation.state == "queued"
    for _ in range(10):
        generation = client.generations.get(generation.id)
        if generation.state in ("completed", "failed"):
            break
    assert generation.state == "completed" and generation.assets.video
    assert requests.get(generation.assets.video, timeout=10).content == VIDEO_BYTES


@pytest.mark.parametrize("kind", KINDS)
def test_our_adapter_sends_what_the_sdk_sends(fake, kind):
    sdk(fake).generations.video.create(**COMMON, **KINDS[kind][0])
    model_id, overrides = KINDS[kind][1]
    provider, job = LumaProvider(), make_job(model_id, prompt=PROMPT, **overrides)
    task_id = provider.submit(job)
    sdk_request, ours = creates(fake)
    same_request(sdk_request, ours, headers=("authorization", "content-type"))
    fake.script = ["succeeded"]
    assert download(provider, poll_until_final(provider, task_id, job)[-1], job) == VIDEO_BYTES


def test_the_sdk_deletes_with_the_route_our_adapter_cancels_with(fake):
    client = sdk(fake)
    client.generations.delete(client.generations.video.create(model="ray-2", prompt=PROMPT).id)
    provider, job = LumaProvider(), make_job("luma-ray-2.0")
    assert provider.cancel(provider.submit(job), job) is True
    sdk_delete, ours = [r for r in fake.requests if r.method == "DELETE"]
    assert ours.path.rsplit("/", 1)[0] == sdk_delete.path.rsplit("/", 1)[0] == "/dream-machine/v1/generations"
    assert ours.headers["authorization"] == sdk_delete.headers["authorization"]
    assert client.generations.get(ours.path.rsplit("/", 1)[1]).state == "failed"


def test_the_legacy_create_route_is_not_ours(fake):
    with pytest.raises(lumaai.NotFoundError):  # POST /generations is gone: only lumaai < 1.12 used it
        sdk(fake).post("/generations", body={"model": "ray-2", "prompt": PROMPT}, cast_to=dict)
    fake.problems.clear()


@pytest.mark.parametrize(("arguments", "word"), [
    ({"model": "ray-1-6"}, "model"), ({"model": "ray-flash-2", "resolution": "4k"}, "4k"),
    ({"model": "ray-2", "duration": "7s"}, "duration"), ({"model": "ray-2", "aspect_ratio": "2:1"}, "aspect_ratio"),
])
def test_the_fake_refuses_what_luma_refuses_in_lumas_error_shape(fake, arguments, word):
    with pytest.raises(lumaai.BadRequestError) as e:
        sdk(fake).generations.video.create(prompt=PROMPT, **arguments)
    assert word in e.value.body["detail"]
    fake.problems.clear()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"vendor_model": "ray-1-6"}, "model"), ({"vendor_model": "ray-flash-2", "resolution": "4k"}, "resolution"),
])
def test_check_mirrors_lumas_models(overrides, field):
    with pytest.raises(InvalidJob) as e:
        LumaProvider().check(make_job("luma-ray-2.0", **overrides))
    assert e.value.field == field


def test_the_sdk_reads_the_fakes_failures(fake):
    fake.script = ["moderated"]
    client = sdk(fake)
    generation = client.generations.get(client.generations.video.create(model="ray-2", prompt=PROMPT).id)
    assert generation.state == "failed" and generation.failure_reason == "Advanced moderation failed"


def test_every_generation_answer_of_the_fake_validates_against_the_sdks_model(fake):
    from lumaai.types import Generation

    client, states = sdk(fake), set()
    for script in (["queued", "running", "succeeded"], ["failed"]):
        fake.script = script
        generation_id = client.generations.video.create(model="ray-2", prompt=PROMPT).id
        for _ in range(len(script)):
            raw = client.generations.with_raw_response.get(generation_id).http_response.json()
            states.add(Generation.model_validate(raw).state)
    assert states == {"queued", "dreaming", "completed", "failed"}
