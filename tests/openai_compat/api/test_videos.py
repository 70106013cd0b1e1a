"""/v1/videos through Django's test client: OpenAI's shapes, bad input refused uncharged, accounts kept apart."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from billing import services as billing
from billing.models import CreditEntry
from tests.factories import data_uri, make_key, make_user, png_bytes
from videos.models import GenerationSession, Video

pytestmark = pytest.mark.django_db


class OpenAIClient:
    def __init__(self, key: str) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {key}"}

    def create(self, body: dict[str, Any]) -> Any:
        return self.client.post("/v1/videos", json.dumps(body), content_type="application/json", headers=self.headers)

    def create_multipart(self, fields: dict[str, Any]) -> Any:
        return self.client.post("/v1/videos", fields, headers=self.headers)  # multipart/form-data

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/v1" + path, params, headers=self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete("/v1" + path, headers=self.headers)


@pytest.fixture
def alice_v1(alice: Any) -> OpenAIClient:
    return OpenAIClient(make_key(alice)[1])


@pytest.fixture
def bob_v1(bob: Any) -> OpenAIClient:
    return OpenAIClient(make_key(bob)[1])


def _assert_openai_error(response: Any, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and error["type"]
    assert error["param"] == param
    return error


def test_create_json_maps_sora_2_and_charges_once(alice: Any, alice_v1: OpenAIClient) -> None:
    response = alice_v1.create({"model": "sora-2", "prompt": "A paper boat on a stream", "seconds": "8",
                                "size": "1280x720"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "video" and body["id"].startswith("vid_")
    assert (body["status"], body["progress"], body["model"]) == ("queued", 0, "sora-2")
    assert (body["seconds"], body["size"], body["simulated"]) == ("8", "1280x720", True)
    assert isinstance(body["created_at"], int) and body["completed_at"] is None and body["error"] is None
    video = Video.objects.get(public_id=body["id"])
    assert video.model.model_id == "sora-2"
    assert (video.duration, video.width, video.height, video.aspect_ratio) == (8, 1280, 720, "16:9")
    assert billing.credit_balance(user=alice) == Decimal("920.00")  # 40 credits per 4 s
    assert CreditEntry.objects.filter(video_id=body["id"], kind=CreditEntry.Kind.CHARGE).count() == 1


def test_create_defaults_to_openai_defaults(alice_v1: OpenAIClient) -> None:
    body = alice_v1.create({"prompt": "Waves"}).json()
    assert (body["model"], body["seconds"], body["size"]) == ("sora-2", "4", "720x1280")


def test_create_multipart_with_uploaded_reference_image(alice_v1: OpenAIClient) -> None:
    upload = SimpleUploadedFile("ref.png", png_bytes(720, 1280), content_type="image/png")
    response = alice_v1.create_multipart({"model": "sora-2-pro", "prompt": "The same scene, moving",
                                          "seconds": "4", "size": "720x1280", "input_reference": upload})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "sora-2-pro"
    session = Video.objects.get(public_id=body["id"]).session
    assert session.params["head_image"].endswith("/head.png")


def test_json_reference_as_image_url_object_takes_a_data_uri(alice_v1: OpenAIClient) -> None:
    response = alice_v1.create({"prompt": "Moving", "input_reference": {"image_url": data_uri(png_bytes(720, 1280))}})
    assert response.status_code == 200, response.content
    assert Video.objects.get(public_id=response.json()["id"]).session.params["head_image"]


def test_any_catalog_model_works_too(alice_v1: OpenAIClient) -> None:
    body = alice_v1.create({"model": "luma-ray-2.0-flash-5s-t2v", "prompt": "A sunset", "size": "1280x720"}).json()
    assert (body["model"], body["seconds"]) == ("luma-ray-2.0-flash-5s-t2v", "5")
    body = alice_v1.create({"model": "sora-2-2025-12-08", "prompt": "A dated snapshot", "seconds": "12"}).json()
    assert (body["model"], body["seconds"], body["size"]) == ("sora-2", "12", "720x1280")


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "sora-2", "prompt": "x", "seconds": "5"}, "seconds"),
    ({"model": "sora-2", "prompt": "x", "seconds": "four"}, "seconds"),
    ({"model": "sora-2", "prompt": "x", "size": "big"}, "size"),
    ({"model": "sora-2", "prompt": "x", "size": "1000x1000"}, "size"),  # Sora: 16:9 or 9:16 only
    ({"model": "sora-2", "prompt": "x", "size": "1000x100"}, "size"),  # no such aspect ratio
    ({"model": "sora-3", "prompt": "x"}, "model"),
    ({"model": "sora-2"}, "prompt"),
    ({"model": "sora-2", "prompt": "   "}, "prompt"),
    ({"model": "sora-2", "prompt": "x", "input_reference": {"file_id": "file_123"}}, "input_reference"),
    ({"model": "sora-2", "prompt": "x", "input_reference": "data:image/png;base64,AAAA"}, "input_reference"),
    ({"model": "sora-2", "prompt": "x", "input_reference": 12}, "input_reference"),
])
def test_bad_input_is_a_400_in_openai_shape_and_charges_nothing(alice: Any, alice_v1: OpenAIClient,
                                                                body: dict[str, Any], param: str) -> None:
    error = _assert_openai_error(alice_v1.create(body), 400, param)
    assert error["type"] == "invalid_request_error"
    assert billing.credit_balance(user=alice) == Decimal(1000)
    assert not GenerationSession.objects.exists() and not Video.objects.exists()


def test_body_that_is_not_json_is_a_400(alice_v1: OpenAIClient) -> None:
    response = alice_v1.client.post("/v1/videos", "{nope", content_type="application/json",
                                    headers=alice_v1.headers)
    _assert_openai_error(response, 400, "body")


def test_bad_list_query_is_a_400(alice_v1: OpenAIClient) -> None:
    _assert_openai_error(alice_v1.get("/videos", limit=0), 400, "limit")
    _assert_openai_error(alice_v1.get("/videos", order="sideways"), 400, "order")
    _assert_openai_error(alice_v1.get("/videos", after="vid_nope"), 400, "after")


def test_keys_come_as_bearer_tokens() -> None:
    client = Client()
    error = _assert_openai_error(client.get("/v1/videos"), 401, None)
    assert error["code"] == "missing_api_key"
    error = _assert_openai_error(client.get("/v1/videos", headers={"Authorization": "Bearer mcp_wrong"}), 401, None)
    assert error["code"] == "invalid_api_key"


def test_x_api_key_alone_is_not_enough(alice: Any) -> None:
    raw = make_key(alice)[1]
    _assert_openai_error(Client().get("/v1/videos", headers={"X-API-Key": raw}), 401, None)


def test_insufficient_credits_is_openais_insufficient_quota(db: None) -> None:
    poor = make_user("poor", credits=10)
    client = OpenAIClient(make_key(poor)[1])
    response = client.create({"model": "sora-2", "prompt": "Too expensive"})
    error = _assert_openai_error(response, 429, None)
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
    assert response["x-should-retry"] == "false"
    assert billing.credit_balance(user=poor) == Decimal(10)
    assert not Video.objects.exists()


def test_another_accounts_video_is_a_404_everywhere(alice_v1: OpenAIClient, bob_v1: OpenAIClient) -> None:
    video_id = alice_v1.create({"prompt": "Mine"}).json()["id"]
    for response in (bob_v1.get(f"/videos/{video_id}"), bob_v1.get(f"/videos/{video_id}/content"),
                     bob_v1.delete(f"/videos/{video_id}")):
        _assert_openai_error(response, 404, "video_id")
    assert bob_v1.get("/videos").json()["data"] == []
    _assert_openai_error(bob_v1.get("/videos", after=video_id), 400, "after")
    assert Video.objects.filter(public_id=video_id).exists()


def test_list_pages_with_a_cursor_both_ways(alice_v1: OpenAIClient) -> None:
    ids = [alice_v1.create({"prompt": f"Clip {i}"}).json()["id"] for i in range(3)]
    first = alice_v1.get("/videos", limit=2).json()
    assert first["object"] == "list"
    assert [v["id"] for v in first["data"]] == ids[::-1][:2]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[2], ids[1], True)
    rest = alice_v1.get("/videos", limit=2, after=first["last_id"]).json()
    assert ([v["id"] for v in rest["data"]], rest["has_more"]) == ([ids[0]], False)
    ascending = alice_v1.get("/videos", order="asc", after=ids[0]).json()
    assert [v["id"] for v in ascending["data"]] == ids[1:]


def test_content_before_completion_is_a_404_video_not_ready(alice_v1: OpenAIClient) -> None:
    video_id = alice_v1.create({"prompt": "Soon"}).json()["id"]
    error = _assert_openai_error(alice_v1.get(f"/videos/{video_id}/content", variant="spritesheet"), 404, "video_id")
    assert error["code"] == "video_not_ready"
    _assert_openai_error(alice_v1.get(f"/videos/{video_id}/content", variant="poster"), 400, "variant")


def test_delete_refunds_an_unfinished_video_and_removes_it(alice: Any, alice_v1: OpenAIClient) -> None:
    video_id = alice_v1.create({"prompt": "Never mind"}).json()["id"]
    assert billing.credit_balance(user=alice) == Decimal("960.00")
    response = alice_v1.delete(f"/videos/{video_id}")
    assert response.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert billing.credit_balance(user=alice) == Decimal("1000.00")
    assert not Video.objects.exists() and not GenerationSession.objects.exists()
    _assert_openai_error(alice_v1.get(f"/videos/{video_id}"), 404, "video_id")


def test_a_timed_sessions_video_is_not_deleted_alone(alice: Any, alice_v1: OpenAIClient) -> None:
    from tests.factories import make_session

    session = make_session(owner=alice, timed=True, max_videos=3)
    video_id = session.videos.get().public_id
    error = _assert_openai_error(alice_v1.delete(f"/videos/{video_id}"), 409, "video_id")
    assert error["code"] == "video_in_session"
    assert alice_v1.get(f"/videos/{video_id}").json()["id"] == video_id  # /v1 lists every video of the account


def test_openapi_document_describes_v1() -> None:
    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/v1/videos", "/v1/videos/{video_id}", "/v1/videos/{video_id}/content"} <= set(paths)
    create = paths["/v1/videos"]["post"]
    assert {"multipart/form-data", "application/json"} <= set(create["requestBody"]["content"])


def test_odd_input_never_reaches_the_database(alice: Any, alice_v1: OpenAIClient) -> None:
    _assert_openai_error(alice_v1.create({"prompt": "a\x00b"}), 400, "prompt")
    _assert_openai_error(alice_v1.get("/videos/vid_%00x"), 404, "video_id")
    _assert_openai_error(alice_v1.get("/videos/" + "v" * 300), 404, "video_id")
    _assert_openai_error(alice_v1.get("/videos", after="vid_\x00"), 400, "after")
    _assert_openai_error(Client().get("/v1/videos", headers={"Authorization": "Bearer mcp_\x00"}), 401, None)
    assert billing.credit_balance(user=alice) == Decimal(1000) and not Video.objects.exists()


def test_bodies_too_large_or_malformed_are_4xx(alice_v1: OpenAIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    big = {"prompt": "x", "input_reference": data_uri(png_bytes(720, 1280)) + "A" * 20_000}
    error = _assert_openai_error(alice_v1.create(big), 413, "body")
    assert "multipart" in error["message"]
    broken = alice_v1.client.post("/v1/videos", b"--xyz\r\nContent-Disposition: form-data; name=\"prompt\"\r\n",
                                  content_type="multipart/form-data; boundary=", headers=alice_v1.headers)
    _assert_openai_error(broken, 400, "body")


def test_unknown_paths_and_methods_answer_in_openai_shape(alice_v1: OpenAIClient) -> None:
    error = _assert_openai_error(alice_v1.get("/nothing/here"), 404, None)
    assert error["code"] == "unknown_url"
    response = alice_v1.client.put("/v1/videos", "{}", content_type="application/json", headers=alice_v1.headers)
    assert _assert_openai_error(response, 405, None)["code"] == "method_not_allowed"


def test_a_failed_video_carries_openais_error_object(alice: Any, alice_v1: OpenAIClient) -> None:
    from videos import services

    video_id = alice_v1.create({"prompt": "Refused"}).json()["id"]
    services.video_fail(Video.objects.get(public_id=video_id).pk, error="Blocked by moderation.", code="moderation")
    body = alice_v1.get(f"/videos/{video_id}").json()
    assert (body["status"], body["error"]) == ("failed", {"code": "moderation", "message": "Blocked by moderation."})
    assert body["progress"] < 100
    assert billing.credit_balance(user=alice) == Decimal(1000)  # refunded through the ledger
    assert CreditEntry.objects.filter(video_id=video_id, kind=CreditEntry.Kind.REFUND).count() == 1
