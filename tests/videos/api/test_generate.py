"""POST /api/v3/videos/generate: the spec's request, its aliases, and every way to get it wrong."""

from decimal import Decimal

import pytest

from billing.models import CreditEntry
from dashboard import pollcache
from tests.conftest import ApiClient
from tests.factories import data_uri, make_key, make_user, png_bytes
from videos.models import GenerationSession, Video

pytestmark = pytest.mark.django_db


def _nothing_written(user) -> bool:
    return (not GenerationSession.objects.filter(owner=user).exists()
            and not CreditEntry.objects.filter(account__user=user, kind="charge").exists())


def test_it_creates_a_session_of_one_charged_video(alice, alice_api, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        r = alice_api.post("/videos/generate", {"prompt": "A cat playing with a ball of yarn",
                                                "model": "minimax-hailuo-02-6s-768p-t2v"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["success"] is True
    assert body["session_id"].startswith("ses_") and body["video_id"].startswith("vid_")
    assert body["credits_used"] == 48.0 and body["remaining_credits"] == 952.0
    assert body["status"] == "pending" and body["model"] == "minimax-hailuo-02-6s-768p-t2v"
    spec_fields = {"success", "video_id", "video_url", "thumbnail_url", "model", "processing_time", "credits_used",
                   "remaining_credits", "duration", "aspect_ratio", "prompt", "status", "created_at"}
    assert spec_fields <= set(body) and body["duration"] == 6 and body["aspect_ratio"] == "16:9"
    video = Video.objects.get(public_id=body["video_id"])
    assert video.session.public_id == body["session_id"] and video.session.max_videos == 1
    assert (video.width, video.height, video.duration, video.frame_rate) == (1366, 768, 6, 24)
    assert video.simulated is True and video.provider == "local"  # no MiniMax credentials here
    assert CreditEntry.objects.get(key=f"video:{video.public_id}:charge").delta == Decimal("-48.00")
    # Only after the commit: the start task is enqueued once, and the change signal for long-polls is published
    # (and the poll cache's entries of the account dropped: dashboard.pollcache).
    callbacks = [c for c in callbacks if not isinstance(c, pollcache.Flush)]
    assert sum("video_start_task" in repr(c) for c in callbacks) == 1 and len(callbacks) == 2


def test_it_accepts_the_spec_aliases(alice_api) -> None:
    image = data_uri(png_bytes(640, 360))
    r = alice_api.post("/videos/generate", {
        "prompt": "A tiger walking through jungle", "model": "minimax-hailuo-02-6s-768p-i2v", "image": image,
        "length": 6, "aspectRatio": "9:16", "promptOptimizer": True, "fps": 30, "seed": 7, "strategy": "cinematic",
    })
    assert r.status_code == 201, r.content
    video = Video.objects.get(public_id=r.json()["video_id"])
    assert (video.duration, video.aspect_ratio, video.frame_rate) == (6, "9:16", 30)
    assert (video.width, video.height) == (768, 1366)
    assert video.params["options"] == {"promptOptimizer": True} and video.params["seed"] == 7
    assert video.credits_used == Decimal("48.00")
    assert video.session.params["head_image"].endswith("/head.png")
    r = alice_api.post("/videos/generate", {"prompt": "waves", "model": "luma-ray-2.0", "duration_seconds": 9,
                                            "imageTail": None})
    assert r.status_code == 201, r.content
    assert r.json()["duration"] == 9 and r.json()["credits_used"] == 81.0  # 45 credits per 5 s, scaled to 9 s


@pytest.mark.parametrize("alias", ["duration", "length", "duration_seconds"])
def test_a_model_id_naming_its_length_makes_only_that_length(alice, alice_api, alias) -> None:
    r = alice_api.post("/videos/generate", {"prompt": "a cat", "model": "minimax-hailuo-02-6s-768p-t2v", alias: 10})
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == "duration" and r.json()["error"]["code"] == "duration_fixed"
    assert _nothing_written(alice)
    models = {m["model_id"]: m for m in alice_api.get("/media-pricing/models").json()["models"]}
    assert models["minimax-hailuo-02-6s-768p-t2v"]["durations"] == [6]  # the catalog says what the id says
    assert models["luma-ray-2.0"]["durations"] == [5, 9]


def test_keyframes_need_both_images_of_one_aspect_ratio(alice, alice_api) -> None:
    head = data_uri(png_bytes(640, 360))
    r = alice_api.post("/videos/generate", {"prompt": "Day to night", "model": "wan-wan2.1-kf2v-plus-5s-480p",
                                            "head_image": head})
    assert r.status_code == 400 and r.json()["error"]["field"] == "tail_image"
    r = alice_api.post("/videos/generate", {"prompt": "Day to night", "model": "wan-wan2.1-kf2v-plus-5s-480p",
                                            "head_image": head, "imageTail": data_uri(png_bytes(360, 640))})
    assert r.status_code == 400 and r.json()["error"]["field"] == "tail_image"
    assert _nothing_written(alice)
    r = alice_api.post("/videos/generate", {"prompt": "Day to night", "model": "wan-wan2.1-kf2v-plus-5s-480p",
                                            "head_image": head, "tail_image": data_uri(png_bytes(1280, 720))})
    assert r.status_code == 201, r.content


@pytest.mark.parametrize("body, status, field", [
    ({"model": "luma-ray-2.0"}, 422, "prompt"),
    ({"prompt": "", "model": "luma-ray-2.0"}, 422, "prompt"),
    ({"prompt": "   ", "model": "luma-ray-2.0"}, 422, "prompt"),
    ({"prompt": "x" * 5001, "model": "luma-ray-2.0"}, 422, "prompt"),
    ({"prompt": "a cat"}, 422, "model"),
    ({"prompt": "a cat", "model": "no-such-model"}, 400, "model"),
    ({"prompt": 42, "model": "luma-ray-2.0"}, 422, "prompt"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "duration": "long"}, 422, "duration"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "duration": 7}, 400, "duration"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "aspect_ratio": "7:5"}, 400, "aspect_ratio"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "resolution": "8k"}, 400, "resolution"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "width": 1280}, 400, "height"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "width": 1281, "height": 720}, 400, "width"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "frame_rate": 240}, 422, "frame_rate"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "strategy": "psychedelic"}, 422, "strategy"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "seed": -1}, 422, "seed"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "wanAudio": True}, 400, "wanAudio"),
    ({"prompt": "a cat", "model": "wan-v2-5-preview", "wanAudio": "yes"}, 422, "wanAudio"),
    ({"prompt": "a cat", "model": "minimax-hailuo-02-6s-768p-i2v"}, 400, "head_image"),
    ({"prompt": "a cat", "model": "luma-ray-2.0-flash-5s-t2v", "head_image": "https://example.com/a.png"},
     400, "head_image"),
    ({"prompt": "a cat", "model": "luma-ray-2.0", "tail_image": "data:image/png;base64,AAAA"}, 400, "head_image"),
    ({"prompt": "a cat", "model": "runway-gen-4-turbo", "image": "file:///etc/passwd"}, 400, "head_image"),
    ({"prompt": "a cat", "model": "runway-gen-4-turbo", "image": "http://127.0.0.1/cat.png"}, 400, "head_image"),
    ({"prompt": "a cat", "model": "runway-gen-4-turbo", "image": "http://2130706433/cat.png"}, 400, "head_image"),
    ({"prompt": "a cat", "model": "runway-gen-4-turbo", "image": "http://[::ffff:127.0.0.1]/c.png"}, 400, "head_image"),
    ({"prompt": "a cat", "model": "runway-gen-4-turbo", "image": "http://169.254.169.254/latest"}, 400, "head_image"),
    ({"prompt": "a cat", "model": "runway-gen-4-turbo", "image": "data:text/plain;base64,aGVsbG8="}, 400, "head_image"),
    ({"prompt": "a cat", "model": "runway-gen-4-turbo", "image": "data:image/png;base64,aGVsbG8="}, 400, "head_image"),
])
def test_bad_input_is_a_4xx_naming_the_field_and_charges_nothing(alice, alice_api, body, status, field) -> None:
    r = alice_api.post("/videos/generate", body)
    assert r.status_code == status, r.content
    error = r.json()["error"]
    assert r.json()["success"] is False and error["field"] == field and error["message"]
    assert _nothing_written(alice)


def test_malformed_json_is_a_400(alice, alice_api) -> None:
    r = alice_api.post("/videos/generate", raw='{"prompt": "a cat", "model":')
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"
    assert _nothing_written(alice)


def test_short_credits_are_a_402_with_nothing_created(db) -> None:
    poor = make_user("poor", credits=10)
    api = ApiClient(make_key(poor)[1])
    r = api.post("/videos/generate", {"prompt": "a cat", "model": "minimax-hailuo-02-6s-768p-t2v"})
    assert r.status_code == 402
    assert r.json()["error"]["code"] == "insufficient_credits"
    assert _nothing_written(poor) and not Video.objects.filter(owner=poor).exists()
    assert api.get("/credits").json()["remaining_credits"] == 10.0


def test_a_disabled_or_unconfigured_model_is_a_503(alice, alice_api, settings) -> None:
    from videos.models import VideoModel

    VideoModel.objects.filter(model_id="luma-ray-2.0").update(enabled=False)
    r = alice_api.post("/videos/generate", {"prompt": "a cat", "model": "luma-ray-2.0"})
    assert r.status_code == 503 and r.json()["error"]["field"] == "model"
    settings.SIMULATE_MISSING_PROVIDERS = False
    r = alice_api.post("/videos/generate", {"prompt": "a cat", "model": "runway-gen-4-turbo",
                                            "image": data_uri(png_bytes())})
    assert r.status_code == 503
    assert _nothing_written(alice)


def test_creations_are_rate_limited_per_key(alice, alice_api, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 2
    body = {"prompt": "a cat", "model": "luma-ray-2.0-flash-5s-t2v"}
    assert [alice_api.post("/videos/generate", body).status_code for _ in range(2)] == [201, 201]
    r = alice_api.post("/videos/generate", body)
    assert r.status_code == 429 and 0 < int(r["Retry-After"]) <= 60
    assert GenerationSession.objects.filter(owner=alice).count() == 2


def test_a_retried_post_with_the_same_idempotency_key_is_charged_once(alice, alice_api) -> None:
    body = {"prompt": "a cat", "model": "luma-ray-2.0-flash-5s-t2v"}
    first = alice_api.client.post("/api/v3/videos/generate", body, content_type="application/json",
                                  headers={"X-API-Key": alice_api.key, "Idempotency-Key": "retry-1"})
    again = alice_api.client.post("/api/v3/videos/generate", body, content_type="application/json",
                                  headers={"X-API-Key": alice_api.key, "Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["session_id"] == again.json()["session_id"]
    assert GenerationSession.objects.filter(owner=alice).count() == 1
    assert alice_api.get("/credits").json()["remaining_credits"] == 980.0
    other = alice_api.client.post("/api/v3/videos/generate", {**body, "prompt": "a dog"},
                                  content_type="application/json",
                                  headers={"X-API-Key": alice_api.key, "Idempotency-Key": "retry-1"})
    assert other.status_code == 400 and other.json()["error"]["code"] == "idempotency_key_reused"
