"""Sora: the official `openai` SDK (which creates videos as multipart/form-data) against our fake, and our
adapter's requests against the SDK's. OpenAI shut the Videos API down on 2026-09-24; the protocol is kept
for compatible endpoints."""

from __future__ import annotations

import io
import warnings

import openai
import pytest
from openai import OpenAI
from PIL import Image

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.sora import FakeSora
from tests.videos.providers.conformance.conftest import creates
from videos.providers.sora import SoraProvider

PROMPT = "a tram crosses a rainy square"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks the shut-down API


@pytest.fixture
def fake(settings):
    yield from running(FakeSora, settings)


def sdk(fake: FakeSora) -> OpenAI:
    return OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, organization=None, project=None)


HEAD_PNG = image(width=720, height=1280).data
KINDS = {  # kind -> (SDK create arguments, catalog model + Job overrides)
    "t2v": ({"model": "sora-2", "seconds": "8", "size": "1280x720"}, ("sora-2-4s-720p-t2v", {"duration": 8})),
    # openai 3.57 takes input_reference as an uploaded file only (a {"image_url"} object raises in the SDK)
    "i2v": ({"model": "sora-2-pro", "seconds": "4", "size": "720x1280",
             "input_reference": ("input_reference.png", HEAD_PNG, "image/png")},
            ("sora-2-pro", {"aspect_ratio": "9:16", "head_image": image(width=720, height=1280)})),
}


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdk_completes_each_kind_against_the_fake(fake, kind):
    fake.script = ["queued", "running:30", "running:70", "succeeded"]
    client = sdk(fake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        video = client.videos.create_and_poll(prompt=PROMPT, poll_interval_ms=10, **KINDS[kind][0])
        assert video.status == "completed" and video.progress == 100
        assert client.videos.download_content(video.id).read() == VIDEO_BYTES
    (create,) = creates(fake)
    assert create.content_type == "multipart/form-data"  # what the fake used to refuse


def test_the_sdk_uploads_an_image_file_as_the_reference(fake):
    fake.script = ["succeeded"]
    client = sdk(fake)
    png = image(width=1280, height=720).data
    video = client.videos.create_and_poll(prompt=PROMPT, model="sora-2", size="1280x720", poll_interval_ms=10,
                                          input_reference=("first.png", png, "image/png"))
    assert video.status == "completed"
    assert creates(fake)[0].form()["input_reference"] == ("first.png", "image/png", png)


@pytest.mark.parametrize("kind", KINDS)
def test_our_adapter_sends_what_the_sdk_sends(fake, kind):
    sdk(fake).videos.create(prompt=PROMPT, **KINDS[kind][0])
    model_id, overrides = KINDS[kind][1]
    provider, job = SoraProvider(), make_job(model_id, prompt=PROMPT, **overrides)
    task_id = provider.submit(job)
    sdk_request, ours = creates(fake)
    assert (ours.method, ours.path) == (sdk_request.method, sdk_request.path) == ("POST", "/v1/videos")
    assert ours.headers["authorization"] == sdk_request.headers["authorization"]
    assert ours.content_type == sdk_request.content_type == "multipart/form-data"
    assert fake.body(ours) == fake.body(sdk_request)  # the same fields, values and uploaded file
    fake.script = ["succeeded"]
    status = poll_until_final(provider, task_id, job)[-1]
    assert download(provider, status, job) == VIDEO_BYTES
    sdk_download = next(r for r in fake.requests if r.path.endswith("/content"))
    assert fake.requests[-1].path == sdk_download.path.replace("sora-task-1", task_id)
    assert fake.requests[-1].headers["authorization"] == sdk_download.headers["authorization"]


def test_our_adapter_fits_a_head_image_of_another_size_to_the_video(fake):
    provider = SoraProvider()
    provider.submit(make_job("sora-2-pro", head_image=image(width=1000, height=1000)))  # to 1280x720
    _, content_type, data = fake.body(creates(fake)[0])["input_reference"]
    assert content_type == "image/png" and Image.open(io.BytesIO(data)).size == (1280, 720)


@pytest.mark.parametrize(("arguments", "word"), [
    ({"model": "sora-2", "size": "1792x1024"}, "sora-2-pro only"), ({"seconds": "5"}, "seconds"),
    ({"size": "1920x1080"}, "size"),
])
def test_the_fake_refuses_what_openai_refuses_in_openais_error_shape(fake, arguments, word):
    with pytest.raises(openai.BadRequestError) as e:
        sdk(fake).videos.create(prompt=PROMPT, **arguments)
    assert word in e.value.message and e.value.type == "invalid_request_error"
    fake.problems.clear()


@pytest.mark.parametrize(("stage", "code"), [("failed", "internal_error"), ("moderated", "moderation_blocked")])
def test_the_sdk_reads_the_fakes_failures(fake, stage, code):
    fake.script = [stage]
    video = sdk(fake).videos.create_and_poll(prompt=PROMPT, poll_interval_ms=10)
    assert video.status == "failed" and video.error.code == code


def test_every_video_answer_of_the_fake_validates_against_the_sdks_model(fake):
    from openai.types import Video

    client, statuses = sdk(fake), set()
    for script in (["queued", "running:40", "succeeded"], ["moderated"]):
        fake.script = script
        video_id = client.videos.create(prompt=PROMPT).id
        for _ in range(len(script)):
            raw = client.videos.with_raw_response.retrieve(video_id).http_response.json()
            statuses.add(Video.model_validate(raw).status)
    assert statuses == {"queued", "in_progress", "completed", "failed"}
