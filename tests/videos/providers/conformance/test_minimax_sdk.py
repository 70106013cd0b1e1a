"""MiniMax: its official client, the MiniMax-MCP server (`minimax-mcp`, MiniMax-AI/MiniMax-MCP), against our
fake, and our adapter's requests against the client's.

MiniMax publishes no general-purpose Python SDK on PyPI (`minimax-client`/`minimax-python` say they are
unofficial; `minimax-h3` is for the separate H3 "V2" API). The MCP server's `generate_video` tool is its
official Python code path: create, poll every 20 s (made instant here), resolve the file, download. It
has no last-frame argument, so first+last frame goes through the same client's transport with the request
from MiniMax's API reference, then through its `query_video_generation` tool.
"""

from __future__ import annotations

import importlib
import time
import types

import pytest

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.minimax import FakeMiniMax
from tests.videos.providers.conformance.conftest import creates, same_request
from videos.providers.base import InvalidJob
from videos.providers.minimax import MiniMaxProvider

PROMPT = "a paper boat drifts on a pond [Push in]"
HEAD, TAIL = image(), image(color="blue")


@pytest.fixture
def server(settings, monkeypatch, tmp_path):
    """minimax_mcp.server, pointed at the fake (it reads its settings from the environment on import)."""
    for fake in running(FakeMiniMax, settings):
        monkeypatch.setenv("MINIMAX_API_KEY", fake.api_key)
        monkeypatch.setenv("MINIMAX_API_HOST", fake.url)
        monkeypatch.chdir(tmp_path)  # its load_dotenv() must not pick up a stray .env
        module = importlib.import_module("minimax_mcp.server")
        from minimax_mcp.client import MinimaxAPIClient

        monkeypatch.setattr(module, "api_client", MinimaxAPIClient(fake.api_key, fake.url))
        monkeypatch.setattr(module, "resource_mode", "local")
        monkeypatch.setattr(module, "base_path", str(tmp_path))
        monkeypatch.setattr(module, "time", types.SimpleNamespace(sleep=lambda _: None, time=time.time))
        yield module, fake


KINDS = {  # kind -> (generate_video arguments, catalog model + Job overrides)
    "t2v": ({"model": "MiniMax-Hailuo-02", "duration": 10, "resolution": "768P"},
            ("minimax-hailuo-02-6s-768p-t2v", {"duration": 10})),
    "i2v": ({"model": "MiniMax-Hailuo-02", "first_frame_image": HEAD.data_uri(), "duration": 6,
             "resolution": "1080P"},
            ("minimax-hailuo-02-6s-768p-i2v", {"head_image": HEAD, "resolution": "1080p"})),
}
# MiniMax API reference, "first and last frame" (MiniMax-Hailuo-02 only): the request body it documents.
KF2V_REFERENCE = {"model": "MiniMax-Hailuo-02", "prompt": PROMPT, "first_frame_image": HEAD.data_uri(),
                  "last_frame_image": TAIL.data_uri(), "duration": 6, "resolution": "768P"}


def saved_video(text: str) -> bytes:
    assert text.startswith("Success. Video saved as: "), text
    with open(text.removeprefix("Success. Video saved as: "), "rb") as f:
        return f.read()


@pytest.mark.parametrize("kind", KINDS)
def test_the_official_client_completes_each_kind_against_the_fake(server, kind):
    module, fake = server
    fake.script = ["queued", "running", "running", "succeeded"]
    result = module.generate_video(prompt=PROMPT, output_directory=".", **KINDS[kind][0])
    assert saved_video(result.text) == VIDEO_BYTES
    polls = [r for r in fake.requests if r.path == "/v1/query/video_generation"]
    assert len(polls) == 4 and fake.requests[-2].path == "/v1/files/retrieve"


def test_the_official_client_may_leave_duration_and_resolution_to_minimax(server):
    module, fake = server
    fake.script = ["succeeded"]
    result = module.generate_video(prompt=PROMPT, model="T2V-01-Director", output_directory=".")
    assert saved_video(result.text) == VIDEO_BYTES
    assert creates(fake)[0].json.keys() == {"model", "prompt"}


def test_check_counts_minimaxs_prompt_limit():
    MiniMaxProvider().check(make_job("minimax-hailuo-02-6s-768p-t2v", prompt="字" * 2000))
    with pytest.raises(InvalidJob) as e:
        MiniMaxProvider().check(make_job("minimax-hailuo-02-6s-768p-t2v", prompt="字" * 2001))
    assert e.value.field == "prompt"


def test_the_official_client_completes_first_and_last_frame_against_the_fake(server):
    module, fake = server
    fake.script = ["queued", "succeeded"]
    task_id = module.api_client.post("/v1/video_generation", json=KF2V_REFERENCE)["task_id"]
    assert "still processing" in module.query_video_generation(task_id, output_directory=".").text
    assert saved_video(module.query_video_generation(task_id, output_directory=".").text) == VIDEO_BYTES


@pytest.mark.parametrize("kind", [*KINDS, "kf2v"])
def test_our_adapter_sends_what_the_official_client_sends(server, kind):
    module, fake = server
    if kind == "kf2v":
        module.api_client.post("/v1/video_generation", json=KF2V_REFERENCE)
        model_id, overrides = "minimax-hailuo-02-6s-768p-i2v", {"head_image": HEAD, "tail_image": TAIL}
    else:
        module.generate_video(prompt=PROMPT, async_mode=True, **KINDS[kind][0])
        model_id, overrides = KINDS[kind][1]
    provider, job = MiniMaxProvider(), make_job(model_id, prompt=PROMPT, **overrides)
    fake.script = ["succeeded"]
    task_id = provider.submit(job)
    theirs, ours = creates(fake)
    same_request(theirs, ours, headers=("authorization", "content-type"))
    assert download(provider, poll_until_final(provider, task_id, job)[-1], job) == VIDEO_BYTES
    module.query_video_generation(task_id, output_directory=".")  # the client's poll of our task
    their_polls = [r for r in fake.requests if r.path == "/v1/query/video_generation"]
    assert their_polls[0].query == their_polls[-1].query == {"task_id": task_id}
    assert their_polls[0].headers["authorization"] == their_polls[-1].headers["authorization"]


@pytest.mark.parametrize(("payload", "word"), [
    ({"model": "MiniMax-Hailuo-2.3", "prompt": PROMPT, "last_frame_image": TAIL.data_uri()}, "Hailuo-02 only"),
    ({"model": "MiniMax-Hailuo-02", "prompt": PROMPT, "duration": 10, "resolution": "1080P"}, "6 s only"),
    ({"model": "Hailuo-3", "prompt": PROMPT}, "unknown model"),
])
def test_the_fake_refuses_what_minimax_refuses_in_minimaxs_error_shape(server, payload, word):
    module, fake = server
    from minimax_mcp.exceptions import MinimaxRequestError

    with pytest.raises(MinimaxRequestError) as e:  # HTTP 200 with base_resp.status_code 2013
        module.api_client.post("/v1/video_generation", json=payload)
    assert "API Error: 2013" in str(e.value) and word in str(e.value)
    fake.problems.clear()
