"""Credits: balance, totals and the ledger (grants, charges, refunds with their video), own rows only."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services
from tests.factories import make_session
from videos import services as video_services

pytestmark = pytest.mark.django_db
URL = reverse("billing:credits")


def test_it_shows_balance_and_ledger_with_videos(client, alice, bob):
    session = make_session(owner=alice)
    video = session.videos.get()
    video_services.video_fail(video.pk, error="vendor down", code="provider_error")
    make_session(owner=bob, prompt="bob's")
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert '<span class="value" id="credit-balance">1,000.00</span>' in body
    assert "Grant" in body and "Charge" in body and "Refund" in body
    assert "-20.00" in body and "+20.00" in body and "+1,000.00" in body
    assert reverse("videos:video-detail", args=[video.public_id]) in body
    assert body.count(video.public_id) >= 2  # the charge and the refund both name the video


def test_a_deleted_videos_rows_keep_its_id(client, alice):
    session = make_session(owner=alice)
    video_id = session.videos.get().public_id
    video_services.session_delete(session=session)
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert video_id in body and "(deleted)" in body


def test_it_never_shows_another_accounts_ledger(client, alice, bob):
    services.credits_grant(user=bob, amount=Decimal(77), key="bob-bonus", note="Bob's bonus")
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert "Bob&#x27;s bonus" not in body and "77.00" not in body


def test_it_explains_that_operators_grant_credits(client, alice):
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert "Add credits" in body and "granted by an operator" in body and "no payment provider" in body


def test_it_paginates_and_gives_htmx_only_the_ledger(client, alice):
    for i in range(30):
        services.credits_grant(user=alice, amount=Decimal(1), key=f"g{i}", note=f"grant {i}")
    client.force_login(alice)
    body = client.get(URL, {"page": 2}, headers={"HX-Request": "true"}).content.decode()
    assert body.strip().startswith('<div id="ledger">') and "Page 2 of 2" in body and "<html" not in body


def test_it_requires_sign_in(client):
    assert client.get(URL).status_code == 302
