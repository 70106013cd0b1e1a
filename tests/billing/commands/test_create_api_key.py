from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from billing import services

pytestmark = pytest.mark.django_db


def test_it_creates_the_user_grants_credits_and_prints_a_working_key() -> None:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "dora", "--credits", "250", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    user = User.objects.get(username="dora")
    assert services.api_key_authenticate(raw).owner == user
    assert services.credit_balance(user=user) == Decimal("250.00")
    assert "250" in err.getvalue() and raw not in err.getvalue()


def test_a_second_key_for_the_same_user_keeps_the_balance_and_refuses_bad_credits() -> None:
    call_command("create_api_key", "dora", "--credits", "10", stdout=StringIO(), stderr=StringIO())
    call_command("create_api_key", "dora", stdout=StringIO(), stderr=StringIO())
    user = User.objects.get(username="dora")
    assert user.api_keys.count() == 2 and services.credit_balance(user=user) == Decimal("10.00")
    with pytest.raises(CommandError):
        call_command("create_api_key", "dora", "--credits", "lots", stdout=StringIO(), stderr=StringIO())
