"""Bad input is a 4xx JSON error naming what is wrong, never a 500, and nothing is created or charged."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from billing.models import CreditEntry
from tests.factories import data_uri, make_session
from videos.models import GenerationSession

pytestmark = pytest.mark.django_db

GOOD = {"prompt": "A cat playing with a ball of yarn", "model": "minimax-hailuo-02-6s-768p-t2v"}


def _nothing_written(user) -> bool:
    return (not GenerationSession.objects.filter(owner=user).exists()
            and not CreditEntry.objects.filter(account__user=user, kind="charge").exists())


def _error(r, status: int) -> dict:
    assert r.status_code == status, r.content
    assert r["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["success"] is False and set(body["error"]) == {"code", "message", "field"}
    return body["error"]


@pytest.mark.parametrize("field, value", [
    ("prompt", "a cat\x00"), ("model", "minimax\x00"), ("aspect_ratio", "16:9\x00"), ("image", "https://x\x00"),
    ("imageTail", "\x00"), ("resolution", "\x00768p"),
])
def test_a_nul_in_any_body_string_is_a_400_naming_the_field(alice, alice_api, field, value) -> None:
    error = _error(alice_api.post("/videos/generate", {**GOOD, field: value}), 400)
    assert error["field"] == field and error["code"] == "invalid_character"
    assert _nothing_written(alice)
    error = _error(alice_api.post("/videos/sessions", {**GOOD, field: value}), 400)
    assert error["field"] == field


@pytest.mark.parametrize("path, params, field", [
    ("/videos/sessions", {"search": "mo\x00"}, "search"),
    ("/videos/history", {"search": "\x00"}, "search"),
    ("/videos/history", {"model": "luma\x00"}, "model"),
    ("/videos/sessions/ses_\x00abc", {}, "session_id"),
    ("/videos/vid_\x00", {}, "video_id"),
])
def test_a_nul_in_a_query_or_path_is_a_400(alice_api, path, params, field) -> None:
    error = _error(alice_api.get(path, **params), 400)
    assert error["field"] == field


def test_a_nul_in_the_path_of_a_write_or_in_a_header_is_a_4xx(alice, alice_api) -> None:
    session = make_session(owner=alice)
    assert _error(alice_api.post("/videos/sessions/ses_\x00/stop"), 400)["field"] == "session_id"
    assert _error(alice_api.delete("/videos/sessions/\x00"), 400)["field"] == "session_id"
    r = alice_api.client.post("/api/v3/videos/generate", json.dumps(GOOD), content_type="application/json",
                              headers={"X-API-Key": alice_api.key, "Idempotency-Key": "k\x00"})
    assert _error(r, 400)["field"] == "Idempotency-Key"
    r = alice_api.client.get("/api/v3/credits", headers={"X-API-Key": "mcp_\x00abc"})
    assert _error(r, 401)["field"] == "X-API-Key"
    assert GenerationSession.objects.filter(owner=alice).count() == 1 and session.videos.count() == 1


def test_a_text_plain_body_is_a_415_and_is_not_charged(alice, alice_api) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = alice_api.client.post("/api/v3/videos/generate", json.dumps(GOOD), content_type=content_type,
                                  headers={"X-API-Key": alice_api.key})
        error = _error(r, 415)
        assert error["code"] == "unsupported_media_type" and error["field"] == "Content-Type"
    assert _nothing_written(alice)
    r = alice_api.client.post("/api/v3/videos/generate", json.dumps(GOOD), content_type="application/json; charset=utf-8",
                              headers={"X-API-Key": alice_api.key})
    assert r.status_code == 201, r.content


def _noise_png(target_bytes: int) -> bytes:
    side = int((target_bytes / 3) ** 0.5)
    pixels = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def test_the_documented_10_mb_image_fits_as_a_data_uri_and_more_is_a_413(alice, alice_api) -> None:
    png = _noise_png(int(9.8 * 1024 * 1024))
    assert 9 * 1024 * 1024 < len(png) <= 10 * 1024 * 1024
    body = {"prompt": "A tiger walking through jungle", "model": "minimax-hailuo-02-6s-768p-i2v",
            "head_image": data_uri(png)}
    r = alice_api.post("/videos/generate", body)
    assert r.status_code == 201, r.content[:500]
    assert len(json.dumps(body)) > 13 * 1024 * 1024  # past Django's default 2.5 MB by far
    sessions = GenerationSession.objects.filter(owner=alice).count()
    huge = {**body, "head_image": "data:image/png;base64," + "A" * (16 * 1024 * 1024)}
    error = _error(alice_api.post("/videos/generate", huge), 413)
    assert error["code"] == "payload_too_large" and error["field"] == "body"
    assert GenerationSession.objects.filter(owner=alice).count() == sessions


@pytest.mark.parametrize("method, path, allowed", [
    ("put", "/videos/generate", "POST"), ("get", "/videos/generate", "POST"),
    ("patch", "/videos/sessions", "GET, POST"), ("put", "/credits", "GET"),
    ("post", "/videos/history", "GET"), ("put", "/videos/sessions/ses_x", "DELETE, GET"),
])
def test_a_wrong_method_is_a_405_json_with_allow(alice_api, method, path, allowed) -> None:
    r = getattr(alice_api.client, method)("/api/v3" + path, headers={"X-API-Key": alice_api.key})
    error = _error(r, 405)
    assert error["code"] == "method_not_allowed"
    assert sorted(m.strip() for m in r["Allow"].split(",")) == sorted(allowed.split(", "))


@pytest.mark.parametrize("path", ["/nope", "/videos/sessions/ses_x/nope", "/videos/generate/extra/", "/v2/x", "/"])
def test_an_unknown_api_path_is_a_404_json(alice_api, client, path) -> None:
    error = _error(alice_api.get(path), 404)
    assert error["code"] == "not_found"
    _error(client.post("/api/v3" + path), 404)


def test_the_pages_answer_404_for_an_id_with_a_nul(client, alice) -> None:
    client.force_login(alice)
    for path in ("/sessions/ses_%00x/", "/sessions/%00/stop/", "/videos/vid_%00/"):
        r = client.get(path) if not path.endswith("stop/") else client.post(path)
        assert r.status_code == 404, (path, r.status_code)
