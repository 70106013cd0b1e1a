"""Operators can follow a video in the logs: one structured event per transition, retry, refund and vendor
error, with the video, its session, the vendor and the attempt bound; never a secret."""

from __future__ import annotations

import json
import logging

import pytest

from dashboard.logs import JsonFormatter
from tests.factories import make_session
from videos.providers import fake
from videos.providers.base import ProviderError, ProviderUnavailable
from videos.services import Retry, video_start

pytestmark = pytest.mark.django_db


def _events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == name]


def test_a_local_render_logs_each_transition_with_its_ids(alice, caplog) -> None:
    video = make_session(owner=alice, width=320, height=180).videos.get()
    with caplog.at_level(logging.INFO, logger="videos"):
        video_start(video.pk)
    video.refresh_from_db()
    assert video.status == "completed"
    moves = [r for r in _events(caplog, "video.transition") if r.video_id == video.public_id]
    assert [r.stage for r in moves] == ["rendering", "storing", "done"]
    assert [r.status for r in moves] == ["processing", "processing", "completed"]
    for record in moves:
        assert record.session_id == video.session.public_id and record.vendor == "local" and record.attempt == 0
    line = json.loads(JsonFormatter().format(moves[-1]))
    assert line["event"] == "video.transition" and line["video_id"] == video.public_id
    assert line["session_id"] == video.session.public_id and line["stage"] == "done"


@pytest.fixture
def fake_luma(settings):
    fake.reset()
    settings.PROVIDERS = {"luma": "videos.providers.fake.FakeProvider"}
    yield fake.FakeProvider
    fake.reset()


def test_a_vendor_error_and_its_refund_are_logged_with_the_secret_scrubbed(alice, caplog, fake_luma) -> None:
    leaked = "mcp_" + "a1B2c3D4e5F6g7H8i9J0"
    fake_luma.submit_error = ProviderError(f"luma HTTP 400: bad request from key {leaked}", code="invalid_parameter")
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    with caplog.at_level(logging.INFO, logger="videos"):
        video_start(video.pk)
    (error,) = _events(caplog, "video.vendor_error")
    (refund,) = _events(caplog, "video.refund")
    for record in (error, refund):
        assert (record.video_id, record.vendor, record.code) == (video.public_id, "luma", "invalid_parameter")
        assert record.session_id == video.session.public_id
    assert refund.refunded == float(video.credits_used)
    line = JsonFormatter().format(error)
    assert "HTTP 400" in line and leaked not in line and "[redacted]" in line


def test_a_retry_is_logged_with_its_attempt_and_delay(alice, caplog, fake_luma) -> None:
    fake_luma.submit_error = ProviderUnavailable("luma HTTP 503: busy", retry_after=7)
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    with caplog.at_level(logging.INFO, logger="videos"), pytest.raises(Retry):
        video_start(video.pk)
    (retry,) = _events(caplog, "video.retry")
    assert (retry.video_id, retry.vendor, retry.attempt, retry.step, retry.delay) == (
        video.public_id, "luma", 1, "submit", 7)
