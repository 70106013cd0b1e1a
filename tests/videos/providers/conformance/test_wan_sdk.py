"""Wan on DashScope: the official `dashscope` SDK against our fake, and our adapter's requests against the SDK's."""

from __future__ import annotations

import dashscope
import pytest
import requests
from dashscope import VideoSynthesis

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.wan import FakeWan
from tests.videos.providers.conformance.conftest import creates
from videos.providers.wan import WanProvider

PROMPT = "the dog wags its tail"
HEAD, TAIL = image(), image(color="blue")


@pytest.fixture
def fake(settings, monkeypatch):
    for fake in running(FakeWan, settings):
        monkeypatch.setattr(dashscope, "base_http_api_url", fake.base_url)
        monkeypatch.setattr(dashscope, "api_key", fake.api_key)
        yield fake


KINDS = {  # kind -> (SDK async_call arguments, catalog model + Job overrides)
    "t2v": ({"model": "wan2.5-t2v-preview", "size": "1280*720", "duration": 10, "seed": 7, "prompt_extend": False},
            ("wan-v2-5-preview", {"resolution": "720p", "duration": 10, "seed": 7,
                                  "options": {"promptOptimizer": False}})),
    "i2v": ({"model": "wan2.2-i2v-flash", "img_url": HEAD.data_uri(), "resolution": "480P", "duration": 5},
            ("wan-wan2.2-i2v-flash-5s-480p", {"head_image": HEAD})),
    "kf2v": ({"model": "wan2.2-kf2v-flash", "first_frame_url": HEAD.url, "last_frame_url": TAIL.url,
              "resolution": "480P", "duration": 5},
             ("wan-wan2.1-kf2v-plus-5s-480p", {"head_image": HEAD, "tail_image": TAIL})),
}


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdk_completes_each_kind_against_the_fake(fake, kind):
    fake.script = ["queued", "running", "succeeded"]
    response = VideoSynthesis.async_call(prompt=PROMPT, **KINDS[kind][0])
    assert response.status_code == 200 and response.output.task_status == "PENDING"
    for _ in range(10):
        response = VideoSynthesis.fetch(response)
        if response.output.task_status in ("SUCCEEDED", "FAILED"):
            break
    assert response.output.task_status == "SUCCEEDED"
    assert requests.get(response.output.video_url, timeout=10).content == VIDEO_BYTES
    assert "extend_prompt" in creates(fake)[0].json["input"]  # what the fake used to refuse


@pytest.mark.parametrize("kind", KINDS)
def test_our_adapter_sends_what_the_sdk_sends(fake, kind):
    VideoSynthesis.async_call(prompt=PROMPT, **KINDS[kind][0])
    model_id, overrides = KINDS[kind][1]
    provider, job = WanProvider(), make_job(model_id, prompt=PROMPT, **overrides)
    task_id = provider.submit(job)
    sdk_request, ours = creates(fake)
    assert (ours.method, ours.path) == (sdk_request.method, sdk_request.path)
    for header in ("authorization", "x-dashscope-async"):
        assert ours.headers.get(header) == sdk_request.headers.get(header), header
    assert ours.content_type == sdk_request.content_type == "application/json"
    theirs = sdk_request.json
    # The SDK also sends the deprecated twin input.extend_prompt (default true; we set parameters.prompt_extend
    # when asked) and input.function (its own module name, "video-synthesis", which the URL already says).
    assert theirs["input"].pop("extend_prompt") is True
    assert theirs["input"].pop("function") == "video-synthesis"
    assert ours.json == theirs
    fake.script = ["succeeded"]
    assert download(provider, poll_until_final(provider, task_id, job)[-1], job) == VIDEO_BYTES
    sdk_fetch = VideoSynthesis.fetch(task_id)
    assert sdk_fetch.output.task_status == "SUCCEEDED"
    our_poll, sdk_poll = [r for r in fake.requests if r.method == "GET" and "/tasks/" in r.path][-2:]
    assert our_poll.path == sdk_poll.path and our_poll.headers["authorization"] == sdk_poll.headers["authorization"]


def test_the_sdk_cancels_with_the_route_our_adapter_uses(fake):
    fake.script = ["queued"]
    first = VideoSynthesis.async_call(prompt=PROMPT, **KINDS["t2v"][0])
    assert VideoSynthesis.cancel(first).status_code == 200
    provider, job = WanProvider(), make_job("wan-v2-5-preview")
    assert provider.cancel(provider.submit(job), job) is True
    sdk_cancel, ours = [r for r in fake.requests if r.path.endswith("/cancel")]
    assert (ours.method, ours.path.split("/")[-1]) == (sdk_cancel.method, "cancel")
    assert ours.path.replace("wan-task-2", "wan-task-1") == sdk_cancel.path
    assert fake.cancelled == ["wan-task-1", "wan-task-2"]


@pytest.mark.parametrize(("arguments", "code"), [
    ({"model": "wan2.2-i2v-flash", "img_url": HEAD.data_uri(), "resolution": "480P", "duration": 10},
     "InvalidParameter"),
    ({"model": "wan2.5-t2v-preview", "resolution": "720P", "duration": 5}, "InvalidParameter"),
])
def test_the_fake_refuses_what_dashscope_refuses_in_dashscopes_error_shape(fake, arguments, code):
    response = VideoSynthesis.async_call(prompt=PROMPT, **arguments)
    assert response.status_code == 400 and response.code == code
    fake.problems.clear()


def test_the_sdk_reads_the_fakes_failures(fake):
    fake.script = ["moderated"]
    response = VideoSynthesis.fetch(VideoSynthesis.async_call(prompt=PROMPT, **KINDS["t2v"][0]))
    assert response.output.task_status == "FAILED" and response.output.code == "DataInspectionFailed"
