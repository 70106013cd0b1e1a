"""Deleting a session: a confirmation page, then POST deletes session, videos and refunds unfinished ones."""

import pytest
from django.urls import reverse

from billing.models import CreditEntry
from tests.factories import make_session
from videos.models import GenerationSession, Video

pytestmark = pytest.mark.django_db


def url(session):
    return reverse("videos:session-delete", args=[session.public_id])


def test_get_asks_for_confirmation(client, alice):
    session = make_session(owner=alice)
    client.force_login(alice)
    body = client.get(url(session)).content.decode()
    assert "Delete session?" in body and "cannot be undone" in body and "csrfmiddlewaretoken" in body
    assert GenerationSession.objects.filter(pk=session.pk).exists()


def test_post_deletes_and_refunds_and_htmx_is_redirected(client, alice):
    session = make_session(owner=alice)
    video_id = session.videos.get().public_id
    client.force_login(alice)
    r = client.post(url(session), headers={"HX-Request": "true"})
    assert r.status_code == 200 and r["HX-Redirect"] == reverse("videos:sessions")
    assert not GenerationSession.objects.filter(pk=session.pk).exists() and not Video.objects.exists()
    assert CreditEntry.objects.filter(kind="refund", video_id=video_id).count() == 1
    assert "deleted" in client.get(reverse("videos:sessions")).content.decode()


def test_post_without_htmx_redirects_to_the_list(client, alice):
    session = make_session(owner=alice)
    client.force_login(alice)
    assert client.post(url(session)).url == reverse("videos:sessions")


def test_it_is_404_for_a_stranger(client, alice, bob):
    session = make_session(owner=alice)
    client.force_login(bob)
    assert client.get(url(session)).status_code == 404
    assert client.post(url(session), headers={"HX-Request": "true"}).status_code == 404
    assert GenerationSession.objects.filter(pk=session.pk).exists()
