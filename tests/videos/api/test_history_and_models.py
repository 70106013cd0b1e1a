import pytest

from tests.factories import make_session

pytestmark = pytest.mark.django_db


def test_history_is_newest_first_and_filters(alice, alice_api) -> None:
    older = make_session(owner=alice, prompt="first", model="luma-ray-2.0-flash-5s-t2v")
    newer = make_session(owner=alice, prompt="second", model="minimax-hailuo-02-6s-768p-t2v")
    body = alice_api.get("/videos/history").json()
    assert [v["session_id"] for v in body["videos"]] == [newer.public_id, older.public_id]
    by_model = alice_api.get("/videos/history", model="luma-ray-2.0-flash-5s-t2v").json()["videos"]
    assert [v["prompt"] for v in by_model] == ["first"]
    assert alice_api.get("/videos/history", status="completed").json()["videos"] == []
    assert alice_api.get("/videos/history", status="nonsense").status_code == 422


def test_the_model_list_is_public_and_complete(client, db) -> None:
    body = client.get("/api/v3/media-pricing/models", {"media_type": "video"}).json()
    ids = {m["model_id"] for m in body["models"]}
    spec_ids = {
        "minimax-hailuo-02-6s-768p-t2v", "minimax-hailuo-2.3-6s-768p-t2v", "minimax-hailuo-2.3-fast-6s-768p-t2v",
        "minimax-hailuo-02-6s-768p-i2v", "minimax-hailuo-02-6s-480p-i2v", "wan-wan2.2-i2v-flash-5s-480p",
        "wan-wan2.2-i2v-flash", "wan-wan2.1-kf2v-plus-5s-480p", "wan-v2-5-preview", "luma-ray-2.0",
        "luma-ray-2.0-flash", "luma-ray-2.0-flash-5s-t2v", "luma-ray-2.0-i2v-5s", "runway-gen-4-turbo", "sora-2-pro",
    }
    assert spec_ids <= ids
    assert {m["provider"] for m in body["models"]} == {"minimax", "luma", "runway", "kling", "veo", "sora", "wan", "pika"}
    by_id = {m["model_id"]: m for m in body["models"]}
    assert by_id["minimax-hailuo-02-6s-768p-i2v"]["credits"] == 48.0
    assert by_id["wan-wan2.1-kf2v-plus-5s-480p"]["type"] == "kf2v"
    assert by_id["wan-wan2.1-kf2v-plus-5s-480p"]["vendor_model"] == "wan2.2-kf2v-flash"
    assert by_id["luma-ray-2.0"]["available"] == "simulated"
    assert "promptOptimizer" in by_id["minimax-hailuo-02-6s-768p-t2v"]["parameters"]
    assert client.get("/api/v3/media-pricing/models", {"media_type": "image"}).status_code == 422
