"""/metrics: Prometheus text read with prometheus_client's own parser; who may scrape; HTTP counters by route."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from dashboard.metrics import vendor_request_observed
from tests.factories import make_session

pytestmark = pytest.mark.django_db


def scrape(client: Client | None = None, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = (client or Client()).get("/metrics", headers=headers)
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.content.decode()) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_loopback_scrapes_others_need_the_token(settings) -> None:
    settings.METRICS_TOKEN = "metrics-token-for-tests-0123"
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    outside = Client(REMOTE_ADDR="203.0.113.9")
    assert outside.get("/metrics").status_code == 403
    assert outside.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert outside.get("/metrics", headers={"Authorization": f"Bearer {settings.METRICS_TOKEN}"}).status_code == 200
    proxied = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403  # a proxy on loopback does not make the world a loopback client
    settings.METRICS_TOKEN = ""
    assert outside.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403


def test_http_requests_are_counted_by_route_pattern_and_status(alice_api) -> None:
    before = scrape()
    alice_api.get("/credits")
    alice_api.get("/credits")
    alice_api.get("/videos/vid_doesnotexist")
    Client().get("/no/such/page")
    after = scrape()
    credits = {"method": "GET", "route": "api/v3/credits", "status": "200"}
    assert value(after, "mcphub_http_requests_total", **credits) - value(
        before, "mcphub_http_requests_total", **credits) == 2
    routes = {dict(labels).get("route") for (name, labels) in after if name == "mcphub_http_requests_total"}
    assert not any("vid_doesnotexist" in r or "no/such" in r for r in routes)  # patterns, never raw paths
    assert "unmatched" in routes and any(r.startswith("api/v3/videos/<") for r in routes)
    count = {"method": "GET", "route": "api/v3/credits"}
    assert value(after, "mcphub_http_request_duration_seconds_count", **count) >= 2
    assert value(after, "mcphub_http_request_duration_seconds_bucket", le="+Inf", **count) >= 2


def test_videos_credits_and_vendor_state_move_when_a_video_is_made(alice, settings) -> None:
    from videos import tasks

    before = scrape()
    session = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v", width=320, height=180)
    video = session.videos.get()
    tasks.video_start_task(video.pk)
    video.refresh_from_db()
    assert video.status == "completed"
    after = scrape()
    done = {"vendor": video.provider, "status": "completed", "error_code": ""}
    assert value(after, "mcphub_videos", **done) - value(before, "mcphub_videos", **done) == 1
    charged = value(after, "mcphub_credits_charged_total") - value(before, "mcphub_credits_charged_total")
    assert Decimal(str(charged)) == video.credits_used
    assert value(after, "mcphub_vendor_max_concurrent", vendor="luma") == settings.PROVIDER_SETTINGS["luma"][
        "max_concurrent"]
    assert ("mcphub_vendor_in_flight", (("vendor", "luma"),)) in after
    assert value(after, "mcphub_broker_up") == 1 and ("mcphub_queue_depth", (("queue", "celery"),)) in after
    session.refresh_from_db()
    assert value(after, "mcphub_sessions", kind="single", status=str(session.status)) >= 1


def test_vendor_latency_is_a_histogram_shared_through_the_cache() -> None:
    for seconds in (0.03, 0.2, 0.2, 7.0):
        vendor_request_observed("luma", "GET", seconds)
    vendor_request_observed("kling", "POST", 0.4)
    samples = scrape()
    get = {"vendor": "luma", "method": "GET"}
    assert value(samples, "mcphub_vendor_request_duration_seconds_count", **get) == 4
    assert value(samples, "mcphub_vendor_request_duration_seconds_bucket", le="0.05", **get) == 1
    assert value(samples, "mcphub_vendor_request_duration_seconds_bucket", le="0.25", **get) == 3
    assert value(samples, "mcphub_vendor_request_duration_seconds_bucket", le="+Inf", **get) == 4
    assert value(samples, "mcphub_vendor_request_duration_seconds_sum", **get) == pytest.approx(7.43)
    assert value(samples, "mcphub_vendor_request_duration_seconds_count", vendor="kling", method="POST") == 1


def test_sweep_age_is_exposed() -> None:
    from videos import tasks

    tasks.videos_reap_task()
    samples = scrape()
    assert 0 <= value(samples, "mcphub_sweep_age_seconds", sweep="videos_reap") < 60


def test_vendor_latency_works_on_the_local_file_cache_too(settings, tmp_path) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                   "LOCATION": str(tmp_path / "cache")}}  # make run's cache
    vendor_request_observed("wan", "GET", 1.5)
    vendor_request_observed("wan", "GET", 1.5)
    samples = scrape()
    assert value(samples, "mcphub_vendor_request_duration_seconds_count", vendor="wan", method="GET") == 2
    assert value(samples, "mcphub_vendor_request_duration_seconds_sum", vendor="wan", method="GET") == 3.0
