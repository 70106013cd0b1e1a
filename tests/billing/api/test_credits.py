import pytest

pytestmark = pytest.mark.django_db


def test_it_returns_the_balance_and_the_ledger(alice_api) -> None:
    r = alice_api.get("/credits")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert body["remaining_credits"] == 1000.0
    assert body["total_granted"] == 1000.0
    assert body["entries"][0]["kind"] == "grant"


def test_it_needs_a_key(client) -> None:
    r = client.get("/api/v3/credits")
    assert r.status_code == 401
    assert r.json()["error"] == {"code": "missing_api_key", "message": "Send your API key in the X-API-Key header.",
                                 "field": "X-API-Key"}
    r = client.get("/api/v3/credits", headers={"X-API-Key": "mcp_nonsense"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_every_total_is_the_sum_of_its_ledger_rows(alice, alice_api) -> None:
    """Charges and refunds at different times (the ledger's default ordering must not split the sums)."""
    from decimal import Decimal

    from billing import services
    from billing.models import CreditEntry
    from tests.factories import make_session
    from videos import services as video_services

    sessions = [make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v") for _ in range(3)]
    sessions.append(make_session(owner=alice, model="minimax-hailuo-02-6s-768p-t2v"))
    video_services.video_fail(sessions[0].videos.get().pk, error="test failure", code="vendor_error")
    services.credits_grant(user=alice, amount=Decimal("12.5"), key="bonus", note="bonus")
    body = alice_api.get("/credits", limit=100).json()
    rows = CreditEntry.objects.filter(account__user=alice)

    def total(kind: str) -> float:
        return float(sum(abs(e.delta) for e in rows if e.kind == kind))

    assert body["total_granted"] == total("grant") == 1012.5
    assert body["total_charged"] == total("charge") == 20.0 * 3 + 48.0
    assert body["total_refunded"] == total("refund") == 20.0
    assert body["remaining_credits"] == body["total_granted"] - body["total_charged"] + body["total_refunded"]
    assert len(body["entries"]) == rows.count() == 7
    assert sum(e["amount"] for e in body["entries"]) == body["remaining_credits"]
    amounts = [body["remaining_credits"], body["total_granted"], body["total_charged"], body["total_refunded"]]
    amounts += [v for e in body["entries"] for v in (e["amount"], e["balance_after"])]
    assert all(isinstance(a, float) for a in amounts)  # one JSON number type: 48.0, never 48
    # The same figures, session by session and in the sessions summary.
    listed = alice_api.get("/videos/sessions").json()
    assert listed["summary"]["total_credits_used"] == body["total_charged"] - body["total_refunded"]
    assert sorted(s["credits_used"] for s in listed["sessions"]) == [0.0, 20.0, 20.0, 48.0]
    history = alice_api.get("/videos/history").json()["videos"]
    assert sum(v["credits_used"] for v in history) == listed["summary"]["total_credits_used"]
    assert all(v["remaining_credits"] == body["remaining_credits"] for v in history)


def test_every_credit_amount_in_every_answer_is_a_float(alice_api) -> None:
    money = {"credits", "credits_used", "remaining_credits", "total_credits_used", "amount", "balance_after",
             "total_granted", "total_charged", "total_refunded"}
    created = alice_api.post("/videos/generate", {"prompt": "a cat", "model": "minimax-hailuo-02-6s-768p-t2v"}).json()
    timed = alice_api.post("/videos/sessions", {"prompt": "hills", "model": "luma-ray-2.0-flash-5s-t2v"}).json()
    answers = [created, timed, alice_api.get("/videos/sessions").json(),
               alice_api.get(f"/videos/sessions/{created['session_id']}").json(),
               alice_api.post(f"/videos/sessions/{timed['session_id']}/stop").json(),
               alice_api.get("/videos/history").json(), alice_api.get(f"/videos/{created['video_id']}").json(),
               alice_api.get("/media-pricing/models").json(), alice_api.get("/credits").json()]
    seen: list[tuple[str, object]] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in money:
                    seen.append((key, item))
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(answers)
    assert {key for key, _ in seen} == money
    assert [(k, v) for k, v in seen if type(v) is not float] == []
    assert created["credits_used"] == 48.0 and json_text_has_fraction(alice_api, "/credits", "remaining_credits")


def json_text_has_fraction(api, path: str, key: str) -> bool:
    """On the wire too: `"remaining_credits": 884.0`, never `884`."""
    import re

    return re.search(rf'"{key}": -?\d+\.\d+[,}}]', api.get(path).content.decode()) is not None
