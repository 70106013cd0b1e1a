"""A misconfigured vendor is caught, not charged for: repeated 401s take its models off sale (503 before any
charge) until the probe gets an authenticated answer again or an operator marks the key fixed."""

from __future__ import annotations

from typing import Any

import pytest

from billing.models import CreditEntry
from billing.services import credit_balance
from videos import tasks
from videos.models import GenerationSession, VendorState, Video
from videos.services import vendor_state

pytestmark = pytest.mark.django_db
MODEL = "luma-ray-2.0-flash-5s-t2v"
BODY = {"prompt": "a lighthouse at dusk", "model": MODEL}


@pytest.fixture(autouse=True)
def _refusals_expected(luma: Any) -> Any:
    """The fake records each refused key as a problem; here the refusals are the point."""
    yield
    luma.problems[:] = [p for p in luma.problems if "header Authorization" not in p]


def refused_video(api: Any, capture: Any) -> Video:
    """Create a video (charged), then run its start task: the vendor answers 401."""
    r = api.post("/videos/generate", BODY)
    assert r.status_code == 201, r.content
    video = Video.objects.get(public_id=r.json()["video_id"])
    with capture(execute=True):
        tasks.video_start_task(video.pk)
    video.refresh_from_db()
    return video


def test_three_refused_keys_in_a_row_disable_the_vendor_until_the_probe_gets_through(
        alice, alice_api, luma, scheduled, django_capture_on_commit_callbacks):
    configured = luma.api_key
    luma.api_key = "rotated-at-the-vendor"  # the vendor no longer accepts the key we send
    balance = credit_balance(user=alice)
    for n in (1, 2, 3):
        video = refused_video(alice_api, django_capture_on_commit_callbacks)
        assert (video.status, video.error_code) == ("failed", "auth")
        assert "Invalid API key" in video.error_detail  # the vendor's words, for operators
        state = VendorState.objects.get(vendor="luma")
        assert state.auth_failures == n and state.auth_state == ("disabled" if n == 3 else "failing")
    assert credit_balance(user=alice) == balance  # each refused video was refunded

    body = alice_api.get(f"/videos/{video.public_id}").json()
    assert body["error"] == "The video service is temporarily unavailable; your credits were refunded."
    assert "Invalid API key" not in str(body) and "401" not in str(body)  # never the vendor's auth message

    sessions, entries = GenerationSession.objects.count(), CreditEntry.objects.count()
    r = alice_api.post("/videos/generate", BODY)
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable"
    assert r.json()["error"]["field"] == "model" and "Invalid API key" not in r.content.decode()
    assert (GenerationSession.objects.count(), CreditEntry.objects.count()) == (sessions, entries)
    assert credit_balance(user=alice) == balance
    assert len(luma.posted()) == 3  # the vendor never saw the fourth

    models = {m["model_id"]: m for m in alice_api.get("/media-pricing/models").json()["models"]}
    assert models[MODEL]["available"] == "unavailable"
    assert models[MODEL]["health"]["auth_state"] == "disabled"
    assert models[MODEL]["health"]["last_error_class"] == "auth"

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.vendors_probe_task() == 0  # still refused: stays off sale
    state = VendorState.objects.get(vendor="luma")
    assert state.auth_state == "disabled" and state.probe_result.startswith("still refused")
    assert alice_api.post("/videos/generate", BODY).status_code == 503

    luma.api_key = configured  # the operator fixed the key at the vendor
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.vendors_probe_task() == 1
    probe = luma.requests[-1]
    assert probe.method == "GET" and "/generations/" in probe.path  # a status request, nothing created
    assert VendorState.objects.get(vendor="luma").auth_state == "ok"
    models = {m["model_id"]: m for m in alice_api.get("/media-pricing/models").json()["models"]}
    assert models[MODEL]["available"] == "live" and models[MODEL]["health"]["auth_state"] == "ok"
    assert alice_api.post("/videos/generate", BODY).status_code == 201


def test_a_success_between_refusals_starts_the_count_again(alice, alice_api, luma, scheduled,
                                                           django_capture_on_commit_callbacks):
    configured = luma.api_key
    luma.api_key = "rotated-at-the-vendor"
    for _ in range(2):
        refused_video(alice_api, django_capture_on_commit_callbacks)
    luma.api_key = configured
    assert refused_video(alice_api, django_capture_on_commit_callbacks).status == "processing"  # accepted
    assert VendorState.objects.get(vendor="luma").auth_failures == 0
    luma.api_key = "rotated-at-the-vendor"
    for _ in range(2):
        refused_video(alice_api, django_capture_on_commit_callbacks)
    assert VendorState.objects.get(vendor="luma").auth_state == "failing"
    assert alice_api.post("/videos/generate", BODY).status_code == 201


def test_other_failures_do_not_count_toward_disabling(alice, luma):
    for _ in range(5):
        vendor_state.vendor_failure_record(vendor="luma", code="vendor_unavailable", detail="HTTP 503")
    state = VendorState.objects.get(vendor="luma")
    assert (state.auth_state, state.auth_failures, state.last_error_class) == ("ok", 0, "vendor_unavailable")


def test_an_operator_marks_the_key_fixed(alice, alice_api, luma):
    for _ in range(3):
        vendor_state.vendor_failure_record(vendor="luma", code="auth", detail="HTTP 401: invalid key")
    assert alice_api.post("/videos/generate", BODY).status_code == 503
    assert vendor_state.vendor_enable(vendor="luma", by="operator test") is True
    assert alice_api.post("/videos/generate", BODY).status_code == 201
    assert vendor_state.vendor_enable(vendor="luma", by="operator test") is False  # nothing left to do


def test_a_probe_that_cannot_reach_the_vendor_changes_nothing(alice, luma):
    for _ in range(3):
        vendor_state.vendor_failure_record(vendor="luma", code="auth", detail="HTTP 401: invalid key")
    luma.reply(503, {"detail": "maintenance"})
    assert vendor_state.vendor_probe(vendor="luma").startswith("inconclusive")
    assert VendorState.objects.get(vendor="luma").auth_state == "disabled"


@pytest.mark.parametrize("model", ["sora-2", "sora-2-pro"])
def test_a_shut_down_model_refuses_live_jobs_before_any_charge(alice, alice_api, settings, model):
    providers = {name: dict(conf) for name, conf in settings.PROVIDER_SETTINGS.items()}
    providers["sora"]["api_key"] = "sk-live"
    settings.PROVIDER_SETTINGS = providers
    balance, entries = credit_balance(user=alice), CreditEntry.objects.count()
    r = alice_api.post("/videos/generate", {"prompt": "a lighthouse at dusk", "model": model})
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable"
    assert "shut it down" in r.json()["error"]["message"]
    assert (credit_balance(user=alice), CreditEntry.objects.count(), Video.objects.count()) == (balance, entries, 0)
    listed = {m["model_id"]: m for m in alice_api.get("/media-pricing/models").json()["models"]}
    assert listed[model]["available"] == "unavailable" and listed[model]["lifecycle"] == "shut_down"


def test_a_shut_down_model_still_renders_simulated_without_a_key(alice, alice_api):
    """No key: nothing reaches a vendor; the simulation shows what the API does, marked simulated."""
    r = alice_api.post("/videos/generate", {"prompt": "a lighthouse at dusk", "model": "sora-2"})
    assert r.status_code == 201 and r.json()["simulated"] is True
