"""The Try form's live price: the server's quote, the same number the services then charge."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import CreditEntry
from tests.factories import make_session

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def _quote(client, **params):
    r = client.get(reverse("videos:price-quote"), params, headers=HX)
    assert r.status_code == 200
    return r.content.decode()


def test_it_follows_duration_and_matches_the_charge(client, alice):
    client.force_login(alice)
    assert 'data-credits="20.00"' in _quote(client, model="luma-ray-2.0-flash", duration="5")
    body = _quote(client, model="luma-ray-2.0-flash", duration="9", resolution="1080p")
    assert 'data-credits="36.00"' in body and "9 s video at 1080P" in body
    make_session(owner=alice, model="luma-ray-2.0-flash", duration=9, resolution="1080p")
    charge = CreditEntry.objects.get(account__user=alice, kind=CreditEntry.Kind.CHARGE)
    assert charge.delta == Decimal("-36.00")  # what the quote said


def test_a_session_shows_its_maximum_spend(client, alice):
    client.force_login(alice)
    body = _quote(client, model="wan-v2-5-preview", duration="10", mode="session", max_videos="4")
    assert 'id="quote-total" data-credits="480.00"' in body and "at most 4 videos" in body
    assert 'id="quote-each" data-credits="120.00"' in body


def test_it_warns_when_the_balance_does_not_cover_it(client, alice):
    client.force_login(alice)  # 1000 credits
    body = _quote(client, model="wan-v2-5-preview", duration="10", mode="session", max_videos="10")
    assert "covers 8 videos at this price" in body


def test_garbage_falls_back_to_the_model_defaults(client, alice):
    client.force_login(alice)
    body = _quote(client, model="luma-ray-2.0-flash", duration="seven", resolution="<b>", mode="session",
                  max_videos="-3")
    assert 'id="quote-total" data-credits="20.00"' in body and "at most 1 video " in body
    assert "<b>" not in body


def test_an_unknown_model_gives_an_empty_quote(client, alice):
    client.force_login(alice)
    body = _quote(client, model="nope")
    assert "credits" not in body


def test_it_needs_sign_in(client):
    r = client.get(reverse("videos:price-quote"), {"model": "luma-ray-2.0-flash"})
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_the_try_page_opens_with_the_quote_and_in_session_mode_from_new_session(client, alice):
    client.force_login(alice)
    body = client.get(reverse("videos:try"), {"mode": "session"}).content.decode()
    assert 'value="session" required id="id_mode_1" checked' in body
    assert 'id="price-quote"' in body and "for this session" in body


def test_changing_the_model_sends_the_new_price_out_of_band(client, alice):
    client.force_login(alice)
    r = client.get(reverse("videos:try"), {"model": "wan-v2-5-preview"},
                   headers={**HX, "HX-Target": "model-fields"})
    body = r.content.decode()
    assert 'id="model-fields"' in body and 'hx-swap-oob="innerHTML"' in body and 'data-credits="60.00"' in body


def test_a_blank_session_size_quotes_what_the_service_would_make(client, alice):
    client.force_login(alice)  # SessionIn's default: 50 videos
    body = _quote(client, model="luma-ray-2.0-flash", duration="5", mode="session", max_videos="")
    assert 'id="quote-total" data-credits="1000.00"' in body and "at most 50 videos" in body
