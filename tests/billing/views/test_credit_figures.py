"""The dashboard's money figures are the ledger's sums (the credits page and the sessions page)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from billing.models import CreditEntry
from tests.factories import make_session
from videos import services

pytestmark = pytest.mark.django_db


def _stat(html: str, label: str) -> Decimal:
    match = re.search(rf'<span class="label">{label}</span><span class="value"[^>]*>([^<]+)</span>', html)
    assert match, label
    return Decimal(match.group(1).strip().replace(",", ""))


def test_the_credits_and_sessions_pages_show_the_ledgers_sums(client, alice) -> None:
    sessions = [make_session(owner=alice) for _ in range(4)]  # 20 credits each, at different instants
    services.video_fail(sessions[0].videos.get().pk, error="test", code="vendor_error")
    rows = CreditEntry.objects.filter(account__user=alice)
    charged = sum(-e.delta for e in rows if e.kind == "charge")
    refunded = sum(e.delta for e in rows if e.kind == "refund")
    assert (charged, refunded) == (Decimal("80.00"), Decimal("20.00"))
    client.force_login(alice)
    html = client.get("/credits/").content.decode()
    assert _stat(html, "Charged") == charged and _stat(html, "Refunded") == refunded
    assert _stat(html, "Granted") == 1000 and _stat(html, "Balance") == 1000 - charged + refunded
    html = client.get("/sessions/").content.decode()
    assert _stat(html, "Credits used") == charged - refunded == 60  # charges less refunds
