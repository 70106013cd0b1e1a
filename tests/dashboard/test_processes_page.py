"""Operators see the session scheduler, the vendor poller and the sweeps in the admin: what /readyz decides on."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from dashboard.heartbeat import Heartbeat
from tests.dashboard.test_background import overdue_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("op", "op@example.com", "pw-for-tests-1")


def test_the_page_shows_each_process_the_lag_and_what_is_wrong(client, operator, alice, settings) -> None:
    settings.SESSIONS_LAG_LIMIT = 60
    overdue_session(alice, 600)
    scheduler = Heartbeat("scheduler", partition=(0, 2))
    scheduler.beat({"sessions_ticked": 41}, worked=True)
    poller = Heartbeat("poller")
    poller.beat({"polls": 7}, stopped=True)
    client.force_login(operator)
    assert reverse("admin-processes") in client.get(reverse("admin:index")).content.decode()
    body = client.get(reverse("admin-processes")).content.decode()
    assert scheduler.id in body and "sessions_ticked 41" in body and "0/2" in body and "alive" in body
    assert poller.id in body and "polls 7" in body and "stopped" in body
    # one session 600 s late, and the live scheduler covers only half the owners: named, as in /readyz
    assert "Due now: <strong>1</strong>" in body and "partition(s) 1/2" in body and "not ready" in body
    assert "videos_poll_due" in body and "never ran" in body


def test_only_staff_see_it(client, alice) -> None:
    url = reverse("admin-processes")
    assert client.get(url).status_code == 302
    client.force_login(alice)
    r = client.get(url)
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
