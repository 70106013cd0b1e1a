"""The video page and its card partial: polls while not final, a player when complete, 404 for strangers."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from tests.factories import make_session
from videos.models import Video

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
POLL = "hx-trigger=\"every 2s [document.visibilityState === 'visible' && !document.documentElement.hasAttribute('data-live')]\""


def _video(owner, **fields):
    video = make_session(owner=owner).videos.get()
    if fields:
        Video.objects.filter(pk=video.pk).update(**fields)
        video.refresh_from_db()
    return video


def test_it_returns_a_polling_card_while_processing(client, alice):
    video = _video(alice, status=Video.Status.PROCESSING, progress=42)
    client.force_login(alice)
    r = client.get(reverse("videos:video-detail", args=[video.public_id]), headers=HX)
    body = r.content.decode()
    assert r.status_code == 200 and "<html" not in body
    assert body.strip().startswith("<article") and POLL in body and 'hx-swap="outerHTML"' in body
    assert 'value="42"' in body and "Rendering · 42%" in body
    assert r["Vary"] and "HX-Request" in r["Vary"]


def test_it_becomes_a_player_with_download_when_complete(client, alice):
    video = _video(alice, status=Video.Status.COMPLETED, progress=100, file="videos/1/x/v.mp4",
                   thumbnail="videos/1/x/v.jpg")
    for name in (video.file, video.thumbnail):  # stored (a missing file shows "File unavailable")
        default_storage.save(name, ContentFile(b"stored"))
    client.force_login(alice)
    body = client.get(reverse("videos:video-detail", args=[video.public_id]), headers=HX).content.decode()
    assert "hx-trigger" not in body and "hx-get" not in body  # polling stops at a final state
    assert '<video controls' in body and "http://testserver/files/videos/1/x/v.mp4?expires=" in body
    assert "&amp;signature=" in body and 'poster="http://testserver/files/videos/1/x/v.jpg' in body
    assert f'download="{video.public_id}.mp4"' in body


def test_it_shows_the_error_and_stops_polling_when_failed(client, alice):
    video = _video(alice, status=Video.Status.FAILED, error="The vendor refused the prompt (moderation).")
    client.force_login(alice)
    body = client.get(reverse("videos:video-detail", args=[video.public_id]), headers=HX).content.decode()
    assert "hx-trigger" not in body and "The vendor refused the prompt (moderation)." in body
    assert "20.00 credits refunded" in body and "<video" not in body


def test_it_renders_the_page_with_details(client, alice):
    video = _video(alice)
    client.force_login(alice)
    r = client.get(reverse("videos:video-detail", args=[video.public_id]))
    body = r.content.decode()
    assert r.status_code == 200 and "<html" in body and video.public_id in body and "Ray 2 Flash · 5s" in body
    assert video.session.public_id in body


@pytest.mark.parametrize("headers", [{}, HX])
def test_it_is_404_for_a_stranger_page_and_partial(client, alice, bob, headers):
    video = _video(alice)
    client.force_login(bob)
    r = client.get(reverse("videos:video-detail", args=[video.public_id]), headers=headers)
    assert r.status_code == 404 and video.prompt.encode() not in r.content


def test_it_requires_sign_in(client, alice):
    video = _video(alice)
    r = client.get(reverse("videos:video-detail", args=[video.public_id]), headers=HX)
    assert r.status_code == 302 and r.url.startswith(reverse("login"))
