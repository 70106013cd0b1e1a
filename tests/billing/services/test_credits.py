from decimal import Decimal

import pytest

from billing import services
from billing.exceptions import InsufficientCredits
from billing.models import CreditAccount, CreditEntry
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_grant_charge_and_refund_move_the_balance_and_write_the_ledger() -> None:
    user = make_user("carol", credits=0)
    services.credits_grant(user=user, amount=Decimal("100"), key="g1")
    services.credits_charge(user=user, amount=Decimal("30.50"), key="c1", video_id="vid_x")
    services.credits_refund(user=user, amount=Decimal("30.50"), key="r1", video_id="vid_x")
    assert services.credit_balance(user=user) == Decimal("100.00")
    rows = list(CreditEntry.objects.filter(account__user=user).order_by("id").values_list("kind", "delta", "balance_after"))
    assert rows == [("grant", Decimal("100.00"), Decimal("100.00")), ("charge", Decimal("-30.50"), Decimal("69.50")),
                    ("refund", Decimal("30.50"), Decimal("100.00"))]


def test_the_same_key_twice_changes_nothing_the_second_time() -> None:
    user = make_user("carol", credits=50)
    services.credits_charge(user=user, amount=Decimal("20"), key="c1")
    services.credits_charge(user=user, amount=Decimal("20"), key="c1")
    _, created = services.credits_refund(user=user, amount=Decimal("20"), key="r1")
    _, created_again = services.credits_refund(user=user, amount=Decimal("20"), key="r1")
    assert (created, created_again) == (True, False)
    assert services.credit_balance(user=user) == Decimal("50.00")
    assert CreditEntry.objects.filter(account__user=user).count() == 3


def test_an_overdraft_raises_and_writes_nothing() -> None:
    user = make_user("carol", credits=10)
    with pytest.raises(InsufficientCredits) as info:
        services.credits_charge(user=user, amount=Decimal("10.01"), key="c1")
    assert info.value.available == Decimal("10.00")
    assert services.credit_balance(user=user) == Decimal("10.00")
    assert not CreditEntry.objects.filter(key="c1").exists()
    assert CreditAccount.objects.get(user=user).balance == Decimal("10.00")
