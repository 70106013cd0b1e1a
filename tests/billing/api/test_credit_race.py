"""No overspend when many requests race for the last credits (row lock on PostgreSQL)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.conftest import ApiClient
from tests.factories import make_key, make_user
from videos.models import Video


@pytest.mark.django_db(transaction=True)
def test_parallel_generations_never_overspend() -> None:
    assert connection.vendor == "postgresql", "the race test needs a real row lock"
    user = make_user("racer", credits=100)  # five 20-credit videos, no more
    key = make_key(user)[1]
    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def hit() -> None:
        from django.db import connections

        api = ApiClient(key)
        barrier.wait()
        try:
            statuses.append(api.post("/videos/generate", {"prompt": "race", "model": "luma-ray-2.0-flash-5s-t2v"})
                            .status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hit) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] * 5 + [402] * 7
    assert credit_balance(user=user) == Decimal("0.00")
    assert CreditEntry.objects.filter(account__user=user, kind="charge").count() == 5
    assert Video.objects.filter(owner=user).count() == 5
