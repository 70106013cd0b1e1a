"""Vendor health and queue estimates: the figures users see match the rows behind them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_session
from videos.models import Video

pytestmark = pytest.mark.django_db
LUMA = "luma-ray-2.0-flash-5s-t2v"
RUNWAY = "runway-gen-4.5"
Stage = Video.Stage


@pytest.fixture
def live(settings: Any) -> None:
    """Luma and Runway have keys (live), so videos go to them; nothing is sent (no task runs here)."""
    providers = {name: dict(conf) for name, conf in settings.PROVIDER_SETTINGS.items()}
    providers["luma"].update(api_key="k-luma", max_concurrent=4)
    providers["runway"].update(api_key="k-runway")
    settings.PROVIDER_SETTINGS = providers


def video(owner: Any, *, model: str = LUMA, stage: str, ago: float = 0, seconds: float | None = None,
          started_ago: float | None = None) -> Video:
    """A charged video through the services, then put in `stage` (finished `ago` seconds ago, taking `seconds`)."""
    v = make_session(owner=owner, model=model).videos.get()
    now = timezone.now()
    status = {Stage.QUEUED: "pending", Stage.DONE: "completed", Stage.FAILED: "failed"}.get(stage, "processing")
    fields: dict[str, Any] = {"stage": stage, "status": status}
    if stage in (Stage.DONE, Stage.FAILED):
        fields.update(completed_at=now - timedelta(seconds=ago), processing_time=seconds,
                      started_at=now - timedelta(seconds=ago + (seconds or 0)))
    if started_ago is not None:
        fields["started_at"] = now - timedelta(seconds=started_ago)
    Video.objects.filter(pk=v.pk).update(**fields)
    v.refresh_from_db()
    return v


def models_health(api: Any) -> tuple[dict, dict]:
    body = api.get("/media-pricing/models").json()
    by_model = {m["model_id"]: m for m in body["models"]}
    return by_model, {v["vendor"]: v for v in body["vendors"]}


def test_the_model_list_shows_each_vendors_health_from_its_rows(alice, alice_api, live):
    for seconds in (10, 20, 60):
        video(alice, stage=Stage.DONE, ago=600, seconds=seconds)
    video(alice, stage=Stage.FAILED, ago=300)
    video(alice, stage=Stage.DONE, ago=2 * 3600, seconds=1000)  # older than the hour: not counted
    for stage in (Stage.SUBMITTED, Stage.SUBMITTED, Stage.DISPATCHED):
        video(alice, stage=stage)
    video(alice, stage=Stage.QUEUED)
    video(alice, stage=Stage.QUEUED)

    by_model, vendors = models_health(alice_api)
    expected = {"vendor": "luma", "in_flight": 3, "capacity": 4, "queued": 2, "finished_last_hour": 4,
                "success_rate": 0.75, "median_seconds": 20.0, "last_error_class": None, "auth_state": "ok"}
    assert vendors["luma"] == expected
    assert by_model[LUMA]["health"] == expected and by_model[LUMA]["available"] == "live"
    assert vendors["runway"] == {"vendor": "runway", "in_flight": 0, "capacity": 5, "queued": 0,
                                 "finished_last_hour": 0, "success_rate": None, "median_seconds": None,
                                 "last_error_class": None, "auth_state": "ok"}
    assert vendors["kling"]["auth_state"] == "not_configured"  # no key: its models render simulated
    assert by_model["kling-v1-6-std-5s-720p-t2v"]["available"] == "simulated"


def test_the_figures_are_cached_briefly_and_recomputed_after(alice, alice_api, live):
    video(alice, stage=Stage.QUEUED)
    assert models_health(alice_api)[1]["luma"]["queued"] == 1
    video(alice, stage=Stage.QUEUED)
    with CaptureQueriesContext(connection) as queries:
        assert models_health(alice_api)[1]["luma"]["queued"] == 1  # from the cache: no aggregate ran
    assert not any('"videos_video"' in q["sql"] for q in queries.captured_queries)
    from videos.health import health_forget

    health_forget()  # what the TTL does after 10 s, and an auth state change does at once
    assert models_health(alice_api)[1]["luma"]["queued"] == 2


def test_queued_and_processing_videos_carry_position_and_eta(alice, alice_api, live):
    for seconds in (10, 20, 60):
        video(alice, stage=Stage.DONE, ago=600, seconds=seconds)  # luma median: 20 s
    video(alice, stage=Stage.SUBMITTED, started_ago=1000)  # overdue: its eta is unknown
    video(alice, stage=Stage.SUBMITTED, started_ago=5)
    working = video(alice, stage=Stage.SUBMITTED, started_ago=5)  # 3 of 4 slots busy
    first = video(alice, stage=Stage.QUEUED)
    second = video(alice, stage=Stage.QUEUED)
    unknown = video(alice, model=RUNWAY, stage=Stage.QUEUED)  # runway: nothing finished in the hour

    def get(v: Video) -> dict:
        body = alice_api.get(f"/videos/{v.public_id}").json()
        return {"position": body["queue_position"], "eta": body["eta_seconds"], "status": body["status"]}

    assert get(first) == {"position": 1, "eta": 20, "status": "pending"}  # a slot is free: it starts now
    assert get(second) == {"position": 2, "eta": 40, "status": "pending"}  # waits for one run to end
    assert get(unknown) == {"position": 1, "eta": None, "status": "pending"}
    now = get(working)
    assert now["position"] == 0 and now["status"] == "processing" and 0 < now["eta"] <= 15
    overdue = Video.objects.get(stage=Stage.SUBMITTED, started_at__lt=timezone.now() - timedelta(seconds=900))
    assert get(overdue)["eta"] is None and get(overdue)["position"] == 0
    done = Video.objects.filter(stage=Stage.DONE).first()
    assert get(done) == {"position": None, "eta": None, "status": "completed"}

    history = {v["video_id"]: v for v in alice_api.get("/videos/history", page_size=50).json()["videos"]}
    assert history[second.public_id]["queue_position"] == 2 and history[second.public_id]["eta_seconds"] == 40
    detail = alice_api.get(f"/videos/sessions/{first.session.public_id}").json()
    assert detail["videos"][0]["queue_position"] == 1


def test_a_created_video_answers_with_its_place_in_the_queue(alice, alice_api, live):
    video(alice, stage=Stage.QUEUED)
    r = alice_api.post("/videos/generate", {"prompt": "a lighthouse at dusk", "model": LUMA})
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["queue_position"], r.json()["eta_seconds"]) == ("pending", 2, None)


def test_a_page_of_videos_costs_the_same_queries_whatever_its_length(alice, alice_api, live):
    video(alice, stage=Stage.DONE, ago=60, seconds=30)
    for _ in range(2):
        video(alice, stage=Stage.QUEUED)
    alice_api.get("/media-pricing/models")  # warm the health cache, as the traffic of the last 10 s does

    def queries(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            body = alice_api.get("/videos/history", page_size=page_size).json()
        assert len(body["videos"]) == page_size
        return len(ctx.captured_queries)

    queries(2)  # the first request of a key also records its use
    small = queries(2)
    for _ in range(6):
        video(alice, stage=Stage.QUEUED)
    assert queries(8) == small


def test_the_dashboard_card_shows_the_place_in_line_and_the_eta(client, alice, live):
    from django.urls import reverse

    video(alice, stage=Stage.DONE, ago=60, seconds=180)  # luma median: 3 min
    video(alice, stage=Stage.QUEUED)
    second = video(alice, stage=Stage.QUEUED)
    client.force_login(alice)
    r = client.get(reverse("videos:video-detail", args=[second.public_id]), headers={"HX-Request": "true"})
    body = r.content.decode()
    assert "Queued · #2 in line" in body and "ready in about 3 min" in body  # free slots: it starts now
