"""Stopping a session from its page: POST only, own sessions only, idempotent."""

import pytest
from django.urls import reverse

from tests.factories import make_session
from videos.models import GenerationSession

pytestmark = pytest.mark.django_db


def url(session):
    return reverse("videos:session-stop", args=[session.public_id])


def test_it_stops_and_returns_the_status_card_to_htmx(client, alice):
    session = make_session(owner=alice, timed=True, max_videos=5)
    client.force_login(alice)
    r = client.post(url(session), {"after": 0}, headers={"HX-Request": "true"})
    session.refresh_from_db()
    body = r.content.decode()
    assert session.status == GenerationSession.Status.STOPPED and session.next_run_at is None
    assert r.status_code == 200 and body.strip().startswith('<section id="session-status"')
    assert "every 3s" not in body and "Stop session" not in body


def test_it_redirects_back_without_htmx_and_is_idempotent(client, alice):
    session = make_session(owner=alice, timed=True, max_videos=5)
    client.force_login(alice)
    assert client.post(url(session)).url == reverse("videos:session-detail", args=[session.public_id])
    assert client.post(url(session)).status_code == 302
    session.refresh_from_db()
    assert session.status == GenerationSession.Status.STOPPED


def test_it_is_404_for_a_stranger(client, alice, bob):
    session = make_session(owner=alice, timed=True, max_videos=5)
    client.force_login(bob)
    assert client.post(url(session), headers={"HX-Request": "true"}).status_code == 404
    session.refresh_from_db()
    assert session.status == GenerationSession.Status.RUNNING


def test_it_refuses_get(client, alice):
    session = make_session(owner=alice, timed=True, max_videos=5)
    client.force_login(alice)
    assert client.get(url(session)).status_code == 405
