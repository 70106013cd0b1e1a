"""Revoking a key: POST only, own keys only (404 otherwise), immediate."""

import pytest
from django.urls import reverse

from billing import services
from tests.factories import make_key

pytestmark = pytest.mark.django_db


def url(key):
    return reverse("billing:api-key-revoke", args=[key.pk])


def test_it_revokes_and_returns_the_panel_to_htmx(client, alice):
    key, raw = make_key(alice, name="old")
    client.force_login(alice)
    r = client.post(url(key), headers={"HX-Request": "true"})
    body = r.content.decode()
    key.refresh_from_db()
    assert r.status_code == 200 and body.strip().startswith('<div id="keys-panel">')
    assert key.revoked_at is not None and services.api_key_authenticate(raw) is None
    assert f"Key {key.prefix}… revoked" in body


def test_it_redirects_without_htmx(client, alice):
    key, _ = make_key(alice)
    client.force_login(alice)
    assert client.post(url(key)).url == reverse("billing:api-keys")


def test_it_is_404_for_a_stranger(client, alice, bob):
    key, raw = make_key(alice)
    client.force_login(bob)
    assert client.post(url(key), headers={"HX-Request": "true"}).status_code == 404
    assert services.api_key_authenticate(raw) == key


def test_it_refuses_get(client, alice):
    key, _ = make_key(alice)
    client.force_login(alice)
    assert client.get(url(key)).status_code == 405
