"""Billing admin: a key is shown once on creation, credit grants are ledger rows, balances are not editable."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from billing import services
from billing.models import ApiKey, CreditAccount, CreditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("op", "op@example.com", "pw-for-tests-1")


def test_adding_a_key_shows_it_once_then_only_the_prefix(client, operator, alice):
    client.force_login(operator)
    r = client.post(reverse("admin:billing_apikey_add"), {"owner": alice.pk, "name": "partner"})
    key = ApiKey.objects.get(owner=alice)
    body = r.content.decode()
    raw = body.split('<code id="new-key"')[1].split(">", 1)[1].split("</code>")[0]
    assert r.status_code == 200 and "only time it is shown" in body and "no-store" in r["Cache-Control"]
    assert services.api_key_authenticate(raw) == key and key.name == "partner"
    change = client.get(reverse("admin:billing_apikey_change", args=[key.pk])).content.decode()
    assert f"{key.prefix}…" in change and raw not in change and key.digest not in change
    assert raw not in client.get(reverse("admin:billing_apikey_changelist")).content.decode()


def test_grant_action_writes_a_ledger_row(client, operator, alice):
    account = CreditAccount.objects.get(user=alice)
    client.force_login(operator)
    url = reverse("admin:billing_creditaccount_changelist")
    page = client.post(url, {"action": "grant_credits", "_selected_action": [account.pk]})
    assert page.status_code == 200 and b"Credits to grant" in page.content
    r = client.post(url, {"action": "grant_credits", "_selected_action": [account.pk], "apply": "1",
                          "amount": "250", "note": "Invoice 7"})
    assert r.status_code == 302
    entry = CreditEntry.objects.filter(account=account, kind="grant").latest("id")
    assert entry.delta == Decimal(250) and entry.note == "Invoice 7" and entry.created_by == "op"
    assert services.credit_balance(user=alice) == Decimal(1250)


def test_the_balance_cannot_be_edited(client, operator, alice):
    account = CreditAccount.objects.get(user=alice)
    client.force_login(operator)
    body = client.get(reverse("admin:billing_creditaccount_change", args=[account.pk])).content.decode()
    assert 'name="balance"' not in body and "1000.00" in body


def test_the_ledger_is_read_only(client, operator, alice):
    entry = CreditEntry.objects.filter(account__user=alice).first()
    client.force_login(operator)
    assert client.get(reverse("admin:billing_creditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:billing_creditentry_add")).status_code == 403
    assert client.post(reverse("admin:billing_creditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403


def test_non_staff_users_cannot_open_the_admin(client, alice):
    client.force_login(alice)
    assert client.get(reverse("admin:billing_apikey_changelist")).status_code == 302


def test_a_credit_account_page_has_no_save_button(client, operator, alice):
    account = CreditAccount.objects.get(user=alice)
    client.force_login(operator)
    body = client.get(reverse("admin:billing_creditaccount_change", args=[account.pk])).content.decode()
    assert 'name="_save"' not in body and 'name="_continue"' not in body and "1000" in body
