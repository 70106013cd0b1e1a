"""Settings → API keys: list own keys, create one (shown once, with a copy button)."""

import pytest
from django.urls import reverse

from billing import services
from billing.models import ApiKey
from tests.factories import make_key

pytestmark = pytest.mark.django_db
URL = reverse("billing:api-keys")


def test_it_lists_only_the_users_keys_by_prefix(client, alice, bob):
    mine, _ = make_key(alice, name="laptop")
    theirs, _ = make_key(bob, name="bob-ci")
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert "laptop" in body and f"{mine.prefix}…" in body
    assert "bob-ci" not in body and theirs.prefix not in body
    assert "Never" in body  # last used


def test_it_creates_a_key_and_shows_it_once(client, alice):
    client.force_login(alice)
    r = client.post(URL, {"name": "my-app"}, headers={"HX-Request": "true"})
    body = r.content.decode()
    key = ApiKey.objects.get(owner=alice)
    raw = body.split('<code id="new-key" tabindex="0">')[1].split("</code>")[0]
    assert r.status_code == 201 and "<html" not in body and body.strip().startswith('<div id="keys-panel">')
    assert raw.startswith("mcp_") and raw.startswith(key.prefix) and ApiKey.digest_of(raw) == key.digest
    assert services.api_key_authenticate(raw) == key and key.name == "my-app"
    assert 'data-copy="#new-key"' in body and "only time it is shown" in body
    assert "no-cache" in r["Cache-Control"] or "no-store" in r["Cache-Control"]
    assert raw not in client.get(URL).content.decode()  # never again


def test_it_creates_a_key_without_htmx_on_the_full_page(client, alice):
    client.force_login(alice)
    r = client.post(URL, {"name": ""})
    assert r.status_code == 201 and b"<html" in r.content and b'id="new-key"' in r.content


def test_it_shows_a_name_error_next_to_the_field(client, alice):
    client.force_login(alice)
    r = client.post(URL, {"name": "x" * 101}, headers={"HX-Request": "true"})
    assert r.status_code == 422 and b'id="id_name_error"' in r.content and not ApiKey.objects.exists()


def test_it_shows_last_used_and_revoked(client, alice):
    key, raw = make_key(alice, name="ci")
    services.api_key_authenticate(raw)
    services.api_key_revoke(key=key)
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert "Never" not in body and "revoked" in body and "Revoke</button>" not in body


def test_it_requires_sign_in(client):
    assert client.get(URL).status_code == 302
    assert client.post(URL, {"name": "x"}).status_code == 302 and not ApiKey.objects.exists()
