"""The OpenAPI document describes what the API does, and its docs page works without the internet."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

ALIASES = {"image": "head_image", "reference_image": "head_image", "imageTail": "tail_image",
           "length": "duration", "duration_seconds": "duration", "aspectRatio": "aspect_ratio", "fps": "frame_rate",
           "prompt_optimizer": "promptOptimizer", "generate_audio": "generateAudio", "wan_audio": "wanAudio"}


@pytest.fixture
def document(client) -> dict:
    r = client.get("/api/v3/openapi.json")
    assert r.status_code == 200
    return r.json()


def _resolve(document: dict, schema: dict) -> dict:
    ref = schema.get("$ref", "")
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def test_every_operation_has_a_typed_success_and_the_error_envelope(document) -> None:
    operations = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]
    ours = [op for path, _, op in operations if not path.startswith("/api/v3/webhooks")]
    assert len(ours) == 12 and len(operations) > 12  # the spec's surface, /credits, /videos/{id}, 2 streams; webhooks
    for path, method, op in operations:
        responses = op["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert len(success) == 1, (path, method)
        if success == ["204"]:  # no content (a webhook endpoint's delete)
            assert "content" not in responses["204"], (path, method)
            continue
        if "text/event-stream" in responses[success[0]]["content"]:  # the live streams of a session, of a video
            assert path in ("/api/v3/videos/sessions/{session_id}/events", "/api/v3/videos/{video_id}/events"), path
            events = responses[success[0]]["content"]["text/event-stream"]["schema"]["properties"]["event"]["enum"]
            assert events == (["session", "video", "end"] if "session_id" in path else ["video", "end"]), path
        else:
            body = _resolve(document, responses[success[0]]["content"]["application/json"]["schema"])
            assert body.get("properties") and body.get("additionalProperties") is not True, (path, method)
        assert {"400", "422", "500"} <= set(responses), (path, method)
        for code, answer in responses.items():
            if code == "304":  # a conditional GET's Not Modified: no body (test_every_get_is_conditional)
                assert method == "get" and "content" not in answer, (path, method)
            elif not code.startswith("2"):
                error = _resolve(document, answer["content"]["application/json"]["schema"])
                assert set(error["properties"]) == {"success", "error"}, (path, method, code)
        if path != "/api/v3/media-pricing/models":
            assert "401" in responses and op["security"] == [{"ApiKeyAuth": []}]
    scheme = document["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def test_the_polls_document_their_long_poll_wait(document) -> None:
    for path in ("/api/v3/videos/sessions/{session_id}", "/api/v3/videos/{video_id}"):
        wait = next(p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "wait")
        assert wait["in"] == "query" and not wait.get("required")
        schema = wait["schema"] if "minimum" in wait["schema"] else wait["schema"]["anyOf"][0]
        assert (schema["minimum"], schema["maximum"]) == (1, 60)
def test_every_get_is_conditional(document) -> None:
    """Each GET declares If-None-Match, its 304 (no body) and the ETag and Retry-After headers of its answers."""
    gets = {path: item["get"] for path, item in document["paths"].items()
            if "get" in item and not path.endswith("/events")}  # a live stream has no validator
    assert len(gets) >= 10
    for path, op in gets.items():
        header = [p for p in op["parameters"] if p["name"] == "If-None-Match"]
        assert header and header[0]["in"] == "header" and not header[0]["required"], path
        responses = op["responses"]
        assert "content" not in responses["304"], path
        for code in ("200", "304"):
            headers = responses[code]["headers"]
            assert headers["ETag"]["required"] and headers["ETag"]["schema"]["type"] == "string", (path, code)
            assert headers["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}, (path, code)


def test_the_create_operations_document_aliases_headers_and_statuses(document) -> None:
    for path, schema_name in (("/api/v3/videos/generate", "GenerateIn"), ("/api/v3/videos/sessions", "SessionIn")):
        op = document["paths"][path]["post"]
        assert {p["name"]: p["in"] for p in op["parameters"]} == {"Idempotency-Key": "header"}
        assert {"201", "400", "401", "402", "413", "415", "422", "429", "503"} <= set(op["responses"])
        assert op["responses"]["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
        properties = document["components"]["schemas"][schema_name]["properties"]
        for alias, canonical in ALIASES.items():
            assert alias in properties and canonical in properties, (schema_name, alias)
            assert f"`{canonical}`" in properties[alias]["description"]
    video = document["components"]["schemas"]["VideoOut"]["properties"]
    spec_format = {"video_id", "video_url", "thumbnail_url", "model", "processing_time", "credits_used",
                   "remaining_credits", "duration", "aspect_ratio", "prompt", "status", "created_at"}
    assert spec_format <= set(video)
    assert "error_detail" not in video  # operators only


def test_the_docs_page_is_served_from_our_own_files(client) -> None:
    page = client.get("/api/v3/docs")
    assert page.status_code == 200
    html = page.content.decode()
    addresses = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html)
    assert addresses and not [a for a in addresses if re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", a, re.IGNORECASE)]
    scripts = [a for a in addresses if a.endswith(".js")]
    assert any("swagger-ui-bundle" in a for a in scripts)
    for address in scripts + [a for a in addresses if a.endswith(".css")]:
        r = client.get(address)
        assert r.status_code == 200, address
        content = b"".join(r.streaming_content) if r.streaming else r.content
        assert len(content) > 500, address
