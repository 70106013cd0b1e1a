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
