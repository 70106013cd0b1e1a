"""POST /videos/sessions with `budget_credits`: refused clearly when it cannot pay for a video, echoed when set."""

import pytest

from billing.models import CreditEntry
from videos.models import GenerationSession

pytestmark = pytest.mark.django_db
BODY = {"prompt": "waves", "model": "luma-ray-2.0-flash-5s-t2v", "max_videos": 5}  # 20 credits a video


@pytest.mark.parametrize("value", [0, -5, "lots", 10_000_001, 19.99, 0.001])
def test_a_budget_that_cannot_pay_for_one_video_is_a_422_naming_it(alice, alice_api, value) -> None:
    r = alice_api.post("/videos/sessions", {**BODY, "budget_credits": value})
    assert r.status_code == 422, r.content
    error = r.json()["error"]
    assert error["field"] == "budget_credits" and "budget_credits" in error["message"]
    assert not GenerationSession.objects.filter(owner=alice).exists()
    assert not CreditEntry.objects.filter(account__user=alice, kind="charge").exists()


def test_the_budget_is_stored_and_echoed_with_what_was_spent(alice_api) -> None:
    r = alice_api.post("/videos/sessions", {**BODY, "budget_credits": 45.5})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["session"]["budget_credits"] == 45.5 and body["session"]["credits_used"] == 20.0
    detail = alice_api.get(f"/videos/sessions/{body['session_id']}").json()
    assert detail["session"]["budget_credits"] == 45.5
    listed = alice_api.get("/videos/sessions").json()["sessions"][0]
    assert listed["budget_credits"] == 45.5


def test_no_budget_reads_null(alice_api) -> None:
    body = alice_api.post("/videos/sessions", BODY).json()
    assert body["session"]["budget_credits"] is None


def test_the_budget_is_in_the_openapi_document(client) -> None:
    document = client.get("/api/v3/openapi.json").json()
    field = document["components"]["schemas"]["SessionIn"]["properties"]["budget_credits"]
    assert field["anyOf"][0]["exclusiveMinimum"] == 0 and "spends" in field["description"]
    out = document["components"]["schemas"]["SessionOut"]["properties"]["budget_credits"]
    assert out["anyOf"][1] == {"type": "null"} or out.get("nullable")
