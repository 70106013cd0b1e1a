"""Kling has no official SDK: its API reference is the judge. The examples below follow the request and
response examples of Kling's API reference (text2video, image2video with an end frame, the task query, the
error envelope and the JWT recipe of its "API authentication" page), placeholders ours. The fake must accept
the reference requests and answer in the reference's shapes; our adapter must send requests of the
reference's shape and read the reference's answers."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from tests.fakevendors import VIDEO_BYTES, running
from tests.fakevendors.jobs import download, image, make_job, poll_until_final
from tests.fakevendors.kling import FakeKling
from tests.videos.providers.conformance.conftest import creates
from videos.providers.kling import KlingProvider

HEAD, TAIL = image(), image(color="blue")

# --- the judge: examples shaped after Kling's API reference -------------------------------------------------
REFERENCE_TEXT2VIDEO = {
    "model_name": "kling-v1-6", "prompt": "a paper boat drifts on a pond", "negative_prompt": "",
    "cfg_scale": 0.5, "mode": "std", "aspect_ratio": "16:9", "duration": "5", "callback_url": "",
    "external_task_id": "",
}
REFERENCE_IMAGE2VIDEO = {  # first + last frame ("image" + "image_tail"), pro mode, as the reference shows it
    "model_name": "kling-v2-6", "image": "https://media.example.test/first.png",
    "image_tail": "https://media.example.test/last.png", "prompt": "camera zooms out, the girl smiles",
    "negative_prompt": "", "duration": "5", "mode": "pro", "sound": "off", "callback_url": "",
    "external_task_id": "",
}
REFERENCE_CREATED = {  # the create response
    "code": 0, "message": "string", "request_id": "string",
    "data": {"task_id": "string", "task_info": {"external_task_id": "string"}, "task_status": "submitted",
             "created_at": 1722769557708, "updated_at": 1722769557708},
}
REFERENCE_QUERY = {  # the query response of a finished task
    "code": 0, "message": "string", "request_id": "string",
    "data": {"task_id": "string", "task_status": "succeed", "task_status_msg": "string",
             "task_info": {"external_task_id": "string"}, "created_at": 1722769557708,
             "updated_at": 1722769557708,
             "task_result": {"videos": [{"id": "string", "url": "string", "duration": "5.1"}]}},
}
REFERENCE_ERROR_CODES = {1201: 400, 1002: 401}  # invalid parameters / authorization invalid


def reference_token(access_key: str, secret_key: str, *, ttl: int = 1800) -> str:
    """The JWT recipe of the reference: HS256, iss = access key, exp = now + 1800, nbf = now - 5."""
    now = int(time.time())
    return jwt.encode({"iss": access_key, "exp": now + ttl, "nbf": now - 5}, secret_key, algorithm="HS256",
                      headers={"alg": "HS256", "typ": "JWT"})


def shape(value):
    """Keys and value types, recursively (what a client parsing the reference would rely on)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture
def fake(settings):
    yield from running(FakeKling, settings, secret_key=FakeKling.secret_key)


def post(fake: FakeKling, path: str, body: dict, *, ttl: int = 1800) -> requests.Response:
    token = reference_token(fake.api_key, fake.secret_key, ttl=ttl)
    return requests.post(fake.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.mark.parametrize(("path", "body"), [("/v1/videos/text2video", REFERENCE_TEXT2VIDEO),
                                            ("/v1/videos/image2video", REFERENCE_IMAGE2VIDEO)])
def test_the_fake_accepts_the_reference_requests_and_answers_in_its_shapes(fake, path, body):
    fake.script = ["queued", "running", "succeeded"]
    created = post(fake, path, body)
    assert created.status_code == 200
    answer = created.json()
    expected = shape(REFERENCE_CREATED)
    expected["data"].pop("task_info")  # only when external_task_id is set
    assert shape(answer) == expected
    task_id, token = answer["data"]["task_id"], reference_token(fake.api_key, fake.secret_key)
    for _ in range(3):
        query = requests.get(f"{fake.url}{path}/{task_id}", headers={"Authorization": f"Bearer {token}"},
                             timeout=10).json()
    assert query["data"]["task_status"] == "succeed"
    videos = query["data"]["task_result"]["videos"]
    assert shape(videos) == shape(REFERENCE_QUERY["data"]["task_result"]["videos"])
    assert requests.get(videos[0]["url"], timeout=10).content == VIDEO_BYTES


@pytest.mark.parametrize("ttl", [1800, 3600, 600])
def test_any_valid_token_is_accepted_not_only_exp_minus_nbf_1805(fake, ttl):
    assert post(fake, "/v1/videos/text2video", REFERENCE_TEXT2VIDEO, ttl=ttl).status_code == 200


@pytest.mark.parametrize(("token", "status"), [("expired", 401), ("wrong-secret", 401)])
def test_a_bad_token_is_refused_in_the_reference_error_envelope(fake, token, status):
    now = int(time.time())
    claims = {"iss": fake.api_key, "exp": now - 10 if token == "expired" else now + 1800, "nbf": now - 60}
    signed = jwt.encode(claims, "another-secret-of-a-decent-length-0123456789" if token == "wrong-secret" else fake.secret_key, algorithm="HS256")
    response = requests.post(fake.url + "/v1/videos/text2video", json=REFERENCE_TEXT2VIDEO, timeout=10,
                             headers={"Authorization": f"Bearer {signed}"})
    body = response.json()
    assert response.status_code == status == REFERENCE_ERROR_CODES[body["code"]]  # 1002: authorization invalid
    assert any("JWT refused" in p for p in fake.problems)
    assert shape(body).keys() == {"code", "message", "request_id", "data"}
    fake.problems.clear()


@pytest.mark.parametrize(("model_id", "overrides", "reference"), [
    ("kling-v1-6-std-5s-720p-t2v", {"options": {"strength": 50}}, REFERENCE_TEXT2VIDEO),
    ("kling-v2-5-turbo-5s-1080p-t2v", {"vendor_model": "kling-v2-6", "head_image": HEAD, "tail_image": TAIL},
     REFERENCE_IMAGE2VIDEO),
])
def test_our_adapter_sends_requests_of_the_references_shape(fake, model_id, overrides, reference):
    provider, job = KlingProvider(), make_job(model_id, **overrides)
    fake.script = ["succeeded"]
    task_id = provider.submit(job)
    (ours,) = creates(fake)
    assert ours.path == ("/v1/videos/image2video" if job.head_image else "/v1/videos/text2video")
    assert ours.json.keys() <= reference.keys()  # no field the reference does not know
    for key, value in ours.json.items():
        assert type(value) is type(reference[key]), key  # e.g. duration is the string "5", cfg_scale a number
    for key in ("model_name", "mode", "duration", "aspect_ratio"):
        if key in ours.json:
            assert ours.json[key] == reference[key], key  # the reference's enum values
    if job.head_image:  # images: a URL or bare base64 (the reference forbids the data: prefix)
        assert not ours.json["image"].startswith("data:") and not ours.json["image_tail"].startswith("data:")
    claims = jwt.decode(ours.headers["authorization"].removeprefix("Bearer "), fake.secret_key,
                        algorithms=["HS256"])
    assert claims["iss"] == fake.api_key and claims["exp"] - claims["nbf"] == 1805  # the reference's recipe
    assert download(provider, poll_until_final(provider, task_id, job)[-1], job) == VIDEO_BYTES


def test_our_adapter_reads_the_references_query_answer(fake):
    provider, job = KlingProvider(), make_job("kling-v1-6-std-5s-720p-t2v")
    task_id = provider.submit(job)
    answer = {**REFERENCE_QUERY, "data": {**REFERENCE_QUERY["data"], "task_result": {"videos": [
        {"id": "v1", "url": f"{fake.url}/cdn/kling-task-1.mp4", "duration": "5.1"}]}}}
    fake.reply(200, answer)
    status = provider.poll(task_id, job)
    assert status.state == "completed" and status.result_url == f"{fake.url}/cdn/kling-task-1.mp4"
    assert download(provider, status, job) == VIDEO_BYTES


@pytest.mark.parametrize(("code", "http", "ours"), [(1102, 429, "insufficient_balance"), (1301, 400, "moderation"),
                                                   (1303, 429, "vendor_unavailable"), (1201, 400, "invalid_parameter")])
def test_our_adapter_maps_the_references_error_codes(fake, code, http, ours):
    fake.reply(http, {"code": code, "message": "string", "request_id": "string", "data": None})
    with pytest.raises(Exception) as e:
        KlingProvider().submit(make_job("kling-v1-6-std-5s-720p-t2v"))
    assert e.value.code == ours and f"error {code}" in e.value.message


def test_the_fake_answers_a_query_by_external_task_id_in_the_references_shape(fake):
    """The reference's single-task query takes the task_id or the create's external_task_id in the path."""
    created = post(fake, "/v1/videos/text2video", {**REFERENCE_TEXT2VIDEO, "external_task_id": "ours-42"}).json()
    assert shape(created) == shape(REFERENCE_CREATED) and created["data"]["task_info"] == {"external_task_id": "ours-42"}
    token = reference_token(fake.api_key, fake.secret_key)
    query = requests.get(f"{fake.url}/v1/videos/text2video/ours-42", headers={"Authorization": f"Bearer {token}"},
                         timeout=10).json()
    assert query["data"]["task_id"] == created["data"]["task_id"]
    assert query["data"]["task_info"] == {"external_task_id": "ours-42"}
