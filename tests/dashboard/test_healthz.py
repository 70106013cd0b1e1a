import pytest

pytestmark = pytest.mark.django_db


def test_it_reports_a_reachable_database_without_auth(client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}
