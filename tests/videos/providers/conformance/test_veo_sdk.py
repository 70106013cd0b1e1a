"""Veo on the Gemini API: the official `google-genai` SDK (2.34, the last line that speaks the Gemini-API
`predictLongRunning` protocol) against our fake, and our adapter's requests against the SDK's."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.veo import FakeVeo
from tests.videos.providers.conformance.conftest import creates, same_request
from videos.providers.veo import VeoProvider

PROMPT = "a fox runs through snow"
HEAD, TAIL = image(), image(color="blue")


@pytest.fixture
def fake(settings):
    yield from running(FakeVeo, settings)


def sdk(fake: FakeVeo) -> genai.Client:
    options = types.HttpOptions(base_url=fake.url, api_version="v1beta",
                                retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key=fake.api_key, http_options=options)


def sdk_image(img) -> types.Image:
    return types.Image(image_bytes=img.data, mime_type=img.content_type)


KINDS = {  # kind -> (SDK generate_videos arguments, catalog model + Job overrides)
    "t2v": ({"model": "veo-3.1-fast-generate-preview",
             "config": types.GenerateVideosConfig(aspect_ratio="9:16", resolution="720p", duration_seconds=6)},
            ("veo-3.1-fast-8s-720p-t2v", {"aspect_ratio": "9:16", "duration": 6})),
    "i2v": ({"model": "veo-3.1-generate-preview", "image": sdk_image(HEAD),
             "config": types.GenerateVideosConfig(aspect_ratio="16:9", resolution="1080p", duration_seconds=8)},
            ("veo-3.1-8s-1080p-t2v", {"head_image": HEAD})),
    "kf2v": ({"model": "veo-3.1-generate-preview", "image": sdk_image(HEAD),
              "config": types.GenerateVideosConfig(aspect_ratio="16:9", resolution="720p", duration_seconds=4,
                                                   last_frame=sdk_image(TAIL))},
             ("veo-3.1-8s-1080p-t2v", {"head_image": HEAD, "tail_image": TAIL, "resolution": "720p",
                                       "duration": 4})),
}


def generate(client: genai.Client, kind: str) -> types.GenerateVideosOperation:
    arguments = dict(KINDS[kind][0])
    source = types.GenerateVideosSource(prompt=PROMPT, image=arguments.pop("image", None))
    return client.models.generate_videos(source=source, **arguments)


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdk_completes_each_kind_against_the_fake(fake, kind):
    fake.script = ["running", "running", "succeeded"]
    client = sdk(fake)
    operation = generate(client, kind)
    for _ in range(10):
        if operation.done:
            break
        operation = client.operations.get(operation)
    assert operation.done and operation.error is None
    (generated,) = operation.response.generated_videos
    assert client.files.download(file=generated.video) == VIDEO_BYTES  # files/<name>:download, with the key


@pytest.mark.parametrize("kind", KINDS)
def test_our_adapter_sends_what_the_sdk_sends(fake, kind):
    client = sdk(fake)  # held: a genai.Client closes its HTTP client when collected
    generate(client, kind)
    model_id, overrides = KINDS[kind][1]
    provider, job = VeoProvider(), make_job(model_id, prompt=PROMPT, **overrides)
    task_id = provider.submit(job)
    sdk_request, ours = creates(fake)
    same_request(sdk_request, ours, headers=("x-goog-api-key", "content-type"))
    assert "authorization" not in ours.headers
    fake.script = ["succeeded"]
    status = poll_until_final(provider, task_id, job)[-1]
    assert download(provider, status, job) == VIDEO_BYTES
    sdk_poll = next(r for r in fake.requests if r.method == "GET" and "/operations/" in r.path)
    our_poll = [r for r in fake.requests if r.method == "GET" and "/operations/" in r.path][-1]
    assert our_poll.path.rsplit("/", 1)[0] == sdk_poll.path.rsplit("/", 1)[0]


def test_the_sdk_refuses_a_seed_on_the_gemini_api_and_so_do_we_not_send_one(fake):
    client = sdk(fake)
    with pytest.raises(ValueError, match="seed"):
        client.models.generate_videos(model="veo-3.1-generate-preview", source=types.GenerateVideosSource(
            prompt=PROMPT), config=types.GenerateVideosConfig(seed=7))
    VeoProvider().submit(make_job("veo-3.1-8s-1080p-t2v", seed=7))
    assert "seed" not in creates(fake)[0].json["parameters"]


@pytest.mark.parametrize(("instance", "parameters", "word"), [
    ({"image": {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}}, {}, "inlineData"),
    ({}, {"seed": 7}, "seed"),
    ({}, {"durationSeconds": 5}, "durationSeconds"),
    ({}, {"resolution": "1080p", "durationSeconds": 6}, "8 s"),
])
def test_the_fake_refuses_what_the_gemini_api_refuses_in_googles_error_shape(fake, instance, parameters, word):
    client = sdk(fake)
    with pytest.raises(errors.ClientError) as e:
        client._api_client.request("post", "models/veo-3.1-generate-preview:predictLongRunning",
                                   {"instances": [{"prompt": PROMPT, **instance}], "parameters": parameters})
    assert e.value.code == 400 and e.value.status == "INVALID_ARGUMENT" and word in e.value.message
    fake.problems.clear()


def test_the_sdk_reads_the_fakes_failures(fake):
    fake.script = ["failed"]
    client = sdk(fake)
    operation = client.operations.get(generate(client, "t2v"))
    assert operation.done and operation.error["message"] == fake.failure_reason
