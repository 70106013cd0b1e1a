"""Sessions list: own sessions only, status filter, search, pagination and the summary."""

import pytest
from django.urls import reverse

from tests.factories import make_session
from videos import services

pytestmark = pytest.mark.django_db
URL = reverse("videos:sessions")


def test_it_lists_own_sessions_with_the_summary(client, alice, bob):
    make_session(owner=alice, prompt="Mountain dawn", timed=True, max_videos=3)
    stopped = make_session(owner=alice, prompt="City night")
    services.session_stop(session=stopped)
    make_session(owner=bob, prompt="Bob's harbour")
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert "Mountain dawn" in body and "City night" in body and "harbour" not in body
    assert "2 sessions" in body
    assert '<span class="label">Sessions</span><span class="value">2</span>' in body
    assert '<span class="label">Stopped</span><span class="value">1</span>' in body
    # the stopped session's video had not started: cancelled and refunded
    assert '<span class="label">Credits used</span><span class="value">20.00</span>' in body
    assert "1 / 3" in body  # videos of a timed session


def test_it_filters_by_status_and_searches(client, alice):
    make_session(owner=alice, prompt="Mountain dawn")
    services.session_stop(session=make_session(owner=alice, prompt="City night"))
    client.force_login(alice)
    body = client.get(URL, {"status": "stopped"}).content.decode()
    assert "City night" in body and "Mountain dawn" not in body
    body = client.get(URL, {"search": "mountain"}).content.decode()
    assert "Mountain dawn" in body and "City night" not in body


def test_it_returns_only_the_list_to_htmx(client, alice):
    make_session(owner=alice)
    client.force_login(alice)
    body = client.get(URL, {"search": "sunset"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in body and body.strip().startswith('<div id="session-list">') and "1 session" in body


def test_it_paginates(client, alice):
    for i in range(21):
        make_session(owner=alice, prompt=f"Take {i:02d}")
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert "Page 1 of 2" in body and "Take 20" in body and "Take 00" not in body
    assert "Take 00" in client.get(URL, {"page": 2}).content.decode()


def test_it_requires_sign_in(client):
    assert client.get(URL).status_code == 302
