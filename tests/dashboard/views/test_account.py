"""Sign-in, sign-out, password change, the account page and the error pages."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = ["videos:try", "videos:history", "videos:sessions", "videos:pricing", "billing:api-keys", "billing:credits",
         "account"]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_but_login_needs_sign_in(client, name):
    r = client.get(reverse(name))
    assert r.status_code == 302 and r.url == f"{reverse('login')}?next={reverse(name)}"


def test_login_page_renders_and_signs_in(alice):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    body = page.content.decode()
    assert page.status_code == 200 and '<label for="id_username">' in body and "csrfmiddlewaretoken" in body
    token = page.cookies["csrftoken"].value
    r = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests-1",
                                       "csrfmiddlewaretoken": token})
    assert r.status_code == 302 and r.url == reverse("videos:try")
    assert client.get(reverse("videos:try")).status_code == 200


def test_a_wrong_password_is_an_error_on_the_form(client, alice):
    r = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert r.status_code == 200 and b"Please enter a correct username and password" in r.content


def test_logout_is_a_post(client, alice):
    client.force_login(alice)
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("videos:try")).status_code == 302


def test_password_change(client, alice):
    client.force_login(alice)
    assert b"Change password" in client.get(reverse("password_change")).content
    r = client.post(reverse("password_change"), {"old_password": "pw-for-tests-1", "new_password1": "a-New-pass-42!",
                                                 "new_password2": "a-New-pass-42!"})
    assert r.url == reverse("password_change_done")
    alice.refresh_from_db()
    assert alice.check_password("a-New-pass-42!")


def test_account_page(client, alice):
    client.force_login(alice)
    body = client.get(reverse("account")).content.decode()
    assert "alice@example.com" in body and "1,000.00" in body and reverse("password_change") in body


def test_missing_pages_are_friendly_without_debug(client, alice, settings):
    settings.DEBUG = False
    client.force_login(alice)
    r = client.get("/videos/vid_doesnotexist/")
    assert r.status_code == 404 and b"Not found" in r.content and b"Traceback" not in r.content
