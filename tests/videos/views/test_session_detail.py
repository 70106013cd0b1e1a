"""A session's page: its status card polls while running and brings new videos out of band."""

import pytest
from django.urls import reverse

from tests.factories import make_session
from videos import services
from videos.models import Video

pytestmark = pytest.mark.django_db
POLL = {"HX-Request": "true", "HX-Target": "session-status"}


def url(session):
    return reverse("videos:session-detail", args=[session.public_id])


def _add_video(session, sequence):
    first = session.videos.get(sequence=0)
    return Video.objects.create(
        session=session, owner=session.owner, model=session.model, sequence=sequence, provider="local",
        prompt=session.prompt, params=first.params, duration=first.duration, aspect_ratio=first.aspect_ratio,
        resolution=first.resolution, width=first.width, height=first.height, credits_used=first.credits_used)


def test_it_shows_the_session_and_its_videos(client, alice):
    session = make_session(owner=alice, prompt="Tide pools", timed=True, max_videos=3)
    client.force_login(alice)
    body = client.get(url(session)).content.decode()
    assert session.public_id in body and "Tide pools" in body and "1 of 3" in body
    assert 'id="session-status"' in body and "every 3s" in body and "Stop session" in body
    assert body.count('class="card"') == 1


def test_the_poll_returns_the_status_and_only_new_videos(client, alice):
    session = make_session(owner=alice, timed=True, max_videos=3)
    new = _add_video(session, 1)
    client.force_login(alice)
    body = client.get(url(session), {"after": 0}, headers=POLL).content.decode()
    assert "<html" not in body and body.strip().startswith('<section id="session-status"')
    assert 'hx-swap-oob="beforeend:#session-videos"' in body
    assert f"card-{new.public_id}" in body and f"card-{session.videos.get(sequence=0).public_id}" not in body
    assert "?after=1" in body  # the next poll asks only for newer videos
    quiet = client.get(url(session), {"after": 1}, headers=POLL).content.decode()
    assert "hx-swap-oob" not in quiet


def test_the_status_card_stops_polling_when_final(client, alice):
    session = services.session_stop(session=make_session(owner=alice, timed=True, max_videos=3))
    client.force_login(alice)
    body = client.get(url(session), {"after": 0}, headers=POLL).content.decode()
    assert 'id="session-status"' in body and "every 3s" not in body and "Stop session" not in body
    assert "Stopped" in body


@pytest.mark.parametrize("headers", [{}, POLL])
def test_it_is_404_for_a_stranger_page_and_partial(client, alice, bob, headers):
    session = make_session(owner=alice, prompt="Private garden")
    client.force_login(bob)
    r = client.get(url(session), headers=headers)
    assert r.status_code == 404 and b"Private garden" not in r.content


def test_a_timed_session_shows_its_maximum_spend(client, alice):
    session = make_session(owner=alice, timed=True, model="luma-ray-2.0-flash", duration=9, max_videos=5)
    client.force_login(alice)
    body = client.get(reverse("videos:session-detail", args=[session.public_id])).content.decode()
    assert 'id="max-spend"' in body and ">180.00</dd>" in body  # 5 × 36.00
