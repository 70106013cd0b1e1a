"""Pika through fal.ai: the official `fal-client` SDK against our fake queue, and our adapter's requests
against the SDK's."""

from __future__ import annotations

import fal_client
import fal_client.client
import pytest
import requests

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.pika import FakeFal
from tests.videos.providers.conformance.conftest import creates, same_request
from videos.providers.pika import PikaProvider

HEAD, TAIL = "https://media.example.test/inputs/red.png?sig=abc", "https://media.example.test/inputs/blue.png?sig=abc"
PROMPT = "camera orbits the statue"


@pytest.fixture
def fake(settings, monkeypatch):
    for fake in running(FakeFal, settings):
        monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", fake.url + "/")
        yield fake


def sdk(fake: FakeFal) -> fal_client.SyncClient:
    return fal_client.SyncClient(key=fake.api_key, default_timeout=10)


KINDS = {  # kind -> (endpoint, SDK arguments, catalog model + Job overrides)
    "t2v": ("fal-ai/pika/v2.2/text-to-video",
            {"prompt": PROMPT, "resolution": "1080p", "duration": 10, "aspect_ratio": "9:16", "seed": 3},
            ("pika-v2.2-5s-720p-t2v", {"resolution": "1080p", "duration": 10, "aspect_ratio": "9:16", "seed": 3})),
    "i2v": ("fal-ai/pika/v2.2/image-to-video", {"prompt": PROMPT, "resolution": "720p", "duration": 5,
                                                "image_url": HEAD},
            ("pika-v2.2-5s-720p-i2v", {"head_image": image(url=HEAD)})),
    "kf2v": ("fal-ai/pika/v2.2/pikaframes", {"prompt": PROMPT, "resolution": "720p", "image_urls": [HEAD, TAIL],
                                             "transitions": [{"duration": 5, "prompt": PROMPT}]},
             ("pika-v2.2-5s-720p-kf2v", {"head_image": image(url=HEAD), "tail_image": image(color="blue", url=TAIL)})),
}


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdk_completes_each_kind_against_the_fake(fake, kind):
    fake.script = ["queued", "running", "running", "succeeded"]
    endpoint, arguments, _ = KINDS[kind]
    handle = sdk(fake).submit(endpoint, arguments=arguments)
    events = list(handle.iter_events(with_logs=True, interval=0.01))  # reads `logs` from every status body
    assert [type(e).__name__ for e in events] == ["Queued", "InProgress", "InProgress", "Completed"]
    result = handle.get(interval=0.01)
    assert requests.get(result["video"]["url"], timeout=10).content == VIDEO_BYTES


@pytest.mark.parametrize("kind", KINDS)
def test_our_adapter_sends_what_the_sdk_sends(fake, kind):
    endpoint, arguments, (model_id, overrides) = KINDS[kind]
    sdk_handle = sdk(fake).submit(endpoint, arguments=arguments)
    provider, job = PikaProvider(), make_job(model_id, prompt=PROMPT, **overrides)
    task_id = provider.submit(job)
    sdk_request, ours = creates(fake)
    same_request(sdk_request, ours, headers=("authorization", "content-type"))
    fake.script = ["succeeded"]
    assert download(provider, poll_until_final(provider, task_id, job)[-1], job) == VIDEO_BYTES
    sdk_handle.status()
    statuses = [r for r in fake.requests if r.path.endswith("/status") and r.method == "GET"]
    our_status, sdk_status = statuses[0], statuses[-1]
    assert our_status.path.replace("pika-task-2", "pika-task-1") == sdk_status.path
    assert our_status.headers["authorization"] == sdk_status.headers["authorization"]


def test_the_sdk_cancels_with_the_route_our_adapter_uses(fake):
    fake.script = ["queued"]
    sdk(fake).submit(*KINDS["t2v"][:2]).cancel()
    provider, job = PikaProvider(), make_job("pika-v2.2-5s-720p-t2v")
    assert provider.cancel(provider.submit(job), job) is True
    sdk_cancel, ours = [r for r in fake.requests if r.path.endswith("/cancel")]
    assert (ours.method, ours.path.replace("pika-task-2", "pika-task-1")) == (sdk_cancel.method, sdk_cancel.path)
    assert fake.cancelled == ["pika-task-1", "pika-task-2"]


@pytest.mark.parametrize(("endpoint", "arguments"), [
    ("fal-ai/pika/v2.2/text-to-video", {"prompt": PROMPT, "duration": 7}),
    ("fal-ai/pika/v2.2/text-to-video", {"prompt": PROMPT, "resolution": "480p"}),
    ("fal-ai/pika/v2.2/image-to-video", {"prompt": PROMPT}),
])
def test_the_fake_refuses_what_fal_refuses_in_fals_error_shape(fake, endpoint, arguments):
    with pytest.raises(fal_client.client.FalClientHTTPError) as e:
        sdk(fake).submit(endpoint, arguments=arguments)
    assert e.value.status_code == 422
    fake.problems.clear()


def test_the_sdk_reads_the_fakes_failures(fake):
    fake.script = ["moderated"]
    handle = sdk(fake).submit(*KINDS["t2v"][:2])
    with pytest.raises(fal_client.client.FalClientHTTPError) as e:
        handle.get(interval=0.01)
    assert e.value.status_code == 422 and "NSFW" in e.value.message
