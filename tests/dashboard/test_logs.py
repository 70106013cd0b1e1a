"""Structured logs: JSON lines with the request id on every line of a request, bound and `extra=` fields, and
no secret ever in the output (API keys, bearer tokens, vendor keys, SECRET_KEY, signed-link signatures)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from celery.signals import task_postrun, task_prerun

from dashboard.logs import ContextFilter, JsonFormatter, PlainFormatter, bind

log = logging.getLogger("tests.logs")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The root logger's output, formatted by our JSON formatter with the context filter (as in production)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_every_line_of_a_request_carries_its_id(alice_api, lines) -> None:
    r = alice_api.client.get("/api/v3/credits", headers={"X-API-Key": alice_api.key, "X-Request-ID": "req-abc.123"})
    assert r.status_code == 200 and r["X-Request-ID"] == "req-abc.123"
    entries = parsed(lines)
    request_lines = [e for e in entries if e["event"] == "http.request"]
    assert request_lines and all(e["request_id"] == "req-abc.123" for e in entries)
    (line,) = request_lines
    assert line["route"] == "api/v3/credits" and line["status"] == 200 and line["method"] == "GET"
    assert line["level"] == "info" and line["ts"].endswith("Z") and line["duration_ms"] >= 0
    fresh = alice_api.client.get("/api/v3/credits", headers={"X-API-Key": alice_api.key,
                                                             "X-Request-ID": "bad id with spaces"})
    assert len(fresh["X-Request-ID"]) == 32 and fresh["X-Request-ID"] != "bad id with spaces"
    assert parsed(lines)[-1]["request_id"] == fresh["X-Request-ID"]


def test_bound_and_extra_fields_are_in_the_line(lines) -> None:
    with bind(session_id="ses_1", vendor="luma"):
        log.info("video.transition", extra={"video_id": "vid_1", "attempt": 2, "from": "queued",
                                            "to": "processing"})
    log.info("after the block")
    first, second = parsed(lines)
    assert first == {**first, "event": "video.transition", "video_id": "vid_1", "session_id": "ses_1",
                     "vendor": "luma", "attempt": 2, "from": "queued", "to": "processing", "logger": "tests.logs"}
    assert "session_id" not in second and "vendor" not in second


def test_celery_tasks_bind_their_id(lines) -> None:
    class Task:
        name = "videos.tasks.video_poll_task"

    task_prerun.send(sender=None, task_id="t-42", task=Task())
    log.info("inside the task")
    task_postrun.send(sender=None, task_id="t-42", task=Task())
    log.info("outside")
    inside, outside = parsed(lines)
    assert (inside["task_id"], inside["task"]) == ("t-42", "videos.tasks.video_poll_task")
    assert "task_id" not in outside


def test_secrets_never_reach_the_logs(lines, settings) -> None:
    vendor_key = "luma-live-key-7f3a9c2e11"
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS,
                                  "luma": {**settings.PROVIDER_SETTINGS["luma"], "api_key": vendor_key}}
    settings.METRICS_TOKEN = "metrics-token-5b6c7d8e"
    api_key = "mcp_" + "Ab1" * 14
    # (SECRET_KEY is whatever the run was given: `x` is as much a secret as a long one; test_a_secret_key_*.)
    secrets = [vendor_key, settings.METRICS_TOKEN, api_key, "eyJhbGciOiJIUzI1NiJ9.payload.sig",
               "0123456789abcdef0123456789abcdef"]
    log.warning("vendor said %s", f"invalid key {vendor_key}", extra={"headers": {"X-API-Key": api_key}})
    log.info("calling with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")
    log.info("link", extra={"url": "http://h/files/a.mp4?expires=1&signature=0123456789abcdef0123456789abcdef"})
    log.info("secret key is %s and token %s", settings.SECRET_KEY, settings.METRICS_TOKEN)
    try:
        raise RuntimeError(f"boom with {api_key}")
    except RuntimeError:
        log.exception("failed")
    output = lines.getvalue()
    assert len(parsed(lines)) == 5 and output.count("[redacted]") >= 7
    for secret in secrets:
        assert secret not in output
    assert parsed(lines)[3]["event"] == "secret key is [redacted] and token [redacted]"
    plain = PlainFormatter().format(logging.LogRecord("x", logging.INFO, "", 0, f"key {api_key} {vendor_key}",
                                                      (), None))
    assert api_key not in plain and vendor_key not in plain


@pytest.mark.parametrize("secret_key", ["x", "k3y!", "level", "info", "a-weak-key", "django-insecure-" + "z9" * 20])
def test_a_secret_key_of_any_length_is_redacted_where_it_stands_alone(lines, settings, secret_key) -> None:
    """A long key is redacted anywhere; a short one (shorter than 8) wherever it is a value of its own, and not
    inside ordinary words, which would make every line unreadable ("x" is in "expires" and "exception")."""
    settings.SECRET_KEY = secret_key
    log.info("secret key is %s", secret_key)
    log.info("settings", extra={"secret": secret_key, "url": f"http://h/?key={secret_key}&expires=1"})
    log.info("exception while expiring 320x180 frames")
    said, fields, words = parsed(lines)  # every line is whole JSON with its own keys, whatever the key's word
    assert said["event"] == "secret key is [redacted]" and said["logger"] == "tests.logs"
    assert said["level"] in ("info", "[redacted]") and set(said) >= {"ts", "level", "logger", "event"}
    assert fields["secret"] == "[redacted]" and fields["url"] == "http://h/?key=[redacted]&expires=1"
    assert words["event"] == "exception while expiring 320x180 frames"
    assert secret_key not in said["event"] + fields["secret"] + fields["url"].replace("expires", "")
    plain = PlainFormatter().format(logging.LogRecord("x", logging.INFO, "", 0, "key: %s.", (secret_key,), None))
    assert plain.endswith("key: [redacted].")
