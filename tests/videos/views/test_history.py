"""History: the user's videos only, filtered by status and model, searched, paginated; htmx gets the grid."""

import pytest
from django.urls import reverse

from tests.factories import make_session
from videos.models import Video

pytestmark = pytest.mark.django_db
URL = reverse("videos:history")


def test_it_shows_only_the_users_videos(client, alice, bob):
    make_session(owner=alice, prompt="Alice's waterfall")
    make_session(owner=bob, prompt="Bob's volcano")
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert "waterfall" in body and "volcano" not in body and "1 video" in body


def test_it_filters_by_status_model_and_prompt(client, alice):
    done = make_session(owner=alice, prompt="A snowy forest").videos.get()
    Video.objects.filter(pk=done.pk).update(status=Video.Status.COMPLETED)
    make_session(owner=alice, prompt="A desert road", model="minimax-hailuo-02-6s-768p-t2v")
    client.force_login(alice)
    assert "snowy" in (b := client.get(URL, {"status": "completed"}).content.decode()) and "desert" not in b
    assert "desert" in (b := client.get(URL, {"model": "minimax-hailuo-02-6s-768p-t2v"}).content.decode())
    assert "snowy" not in b
    assert "desert" in (b := client.get(URL, {"search": "DESERT"}).content.decode()) and "snowy" not in b
    assert "No video matches" in client.get(URL, {"search": "nothing like this"}).content.decode()


def test_it_ignores_a_bad_filter_value(client, alice):
    make_session(owner=alice)
    client.force_login(alice)
    r = client.get(URL, {"status": "exploded", "page": "x"})
    assert r.status_code == 200 and "1 video" in r.content.decode()


def test_it_paginates_twelve_a_page(client, alice):
    for i in range(13):
        make_session(owner=alice, prompt=f"Scene number {i:02d}")
    client.force_login(alice)
    first = client.get(URL).content.decode()
    assert "Page 1 of 2" in first and "Scene number 12" in first and "Scene number 00" not in first
    second = client.get(URL, {"page": 2}).content.decode()
    assert "Scene number 00" in second and "Scene number 12" not in second


def test_it_returns_only_the_grid_to_htmx(client, alice):
    make_session(owner=alice)
    client.force_login(alice)
    r = client.get(URL, {"status": "pending"}, headers={"HX-Request": "true"})
    body = r.content.decode()
    assert "<html" not in body and body.strip().startswith('<div id="video-grid">') and "card-vid_" in body


def test_it_shows_an_empty_state(client, alice):
    client.force_login(alice)
    assert "No videos yet" in client.get(URL).content.decode()
