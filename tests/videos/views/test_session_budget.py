"""The dashboard's session budget: the Try form's field, its quote, and the session page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import CreditEntry
from tests.factories import make_session
from videos import services
from videos.models import GenerationSession, Video

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
SESSION = {"model": "luma-ray-2.0-flash-5s-t2v", "prompt": "A red kite over a beach", "mode": "session",
           "max_videos": "5", "interval_seconds": "10", "duration_minutes": "5"}  # 20 credits a video


def test_the_try_form_starts_a_session_with_a_budget(client, alice):
    client.force_login(alice)
    assert "Budget (credits)" in client.get(reverse("videos:try")).content.decode()
    r = client.post(reverse("videos:try"), {**SESSION, "budget_credits": "45.50"}, headers=HX)
    assert r.status_code == 201
    assert GenerationSession.objects.get(owner=alice).budget_credits == Decimal("45.50")


def test_a_budget_below_one_video_sits_by_its_field_in_words(client, alice):
    client.force_login(alice)
    r = client.post(reverse("videos:try"), {**SESSION, "budget_credits": "10"}, headers=HX)
    body = r.content.decode()
    assert r.status_code == 422 and 'id="id_budget_credits_error"' in body
    assert "The budget must cover at least one video" in body and "budget_credits" not in body.split("<form")[0]
    assert not GenerationSession.objects.exists() and not CreditEntry.objects.filter(kind="charge").exists()


def test_the_quote_caps_the_maximum_at_the_budget(client, alice):
    client.force_login(alice)
    params = {"model": "luma-ray-2.0-flash-5s-t2v", "mode": "session", "max_videos": "5"}
    body = client.get(reverse("videos:price-quote"), {**params, "budget_credits": "50"}, headers=HX).content.decode()
    assert 'data-credits="40.00"' in body and "at most 2 videos" in body and 'id="quote-budget"' in body
    body = client.get(reverse("videos:price-quote"), params, headers=HX).content.decode()
    assert 'data-credits="100.00"' in body and "quote-budget" not in body


def test_the_session_page_shows_the_budget_and_why_it_ended(client, alice):
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10, budget_credits=30)
    Video.objects.filter(session=session).update(status=Video.Status.COMPLETED)
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    services.session_tick(session.pk)
    client.force_login(alice)
    body = client.get(reverse("videos:session-detail", args=[session.public_id])).content.decode()
    assert 'id="session-budget">30' in body and 'id="max-spend"' in body
    assert 'class="alert alert-info">Stopped: budget of 30 credits reached.' in body
    assert "badge-completed" in body


def test_same_settings_again_and_copy_as_code_carry_the_budget(client, alice):
    from videos.views.code import cli, request_body

    session = make_session(owner=alice, timed=True, max_videos=4, interval_seconds=30, budget_credits=50)
    video = session.videos.get()
    assert request_body(video, base="http://x")["budget_credits"] == 50.0
    assert cli(video, base="http://x").endswith("--budget 50.0")
    client.force_login(alice)
    body = client.get(reverse("videos:video-detail", args=[video.public_id])).content.decode()
    assert "budget_credits=50.00" in body  # the "same settings again" link
    form = client.get(reverse("videos:try"), {"mode": "session", "budget_credits": "50.00"}).content.decode()
    assert 'name="budget_credits" value="50.00"' in form
