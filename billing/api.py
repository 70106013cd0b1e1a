"""/api/v3/credits: the balance, the ledger's totals and its latest rows."""

from datetime import datetime
from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from billing import selectors, services
from billing.models import CreditEntry
from dashboard.http import ApiRequest
from dashboard.conditional import not_modified
from videos import versions
from videos.api.errors import POLL
from videos.api.outputs import credits
from videos.schemas import ApiInput

router = Router(tags=["credits"])


class LedgerQuery(ApiInput):
    limit: int = Field(20, ge=1, le=100, description="How many of the latest ledger rows to return.")


class EntryOut(Schema):
    kind: Literal["grant", "charge", "refund"]
    amount: float = Field(description="Signed: negative for a charge.")
    balance_after: float
    video_id: str | None
    session_id: str | None
    note: str
    created_at: datetime

    @classmethod
    def of(cls, entry: CreditEntry) -> "EntryOut":
        return cls(kind=entry.kind, amount=credits(entry.delta), balance_after=credits(entry.balance_after),
                   video_id=entry.video_id or None, session_id=entry.session_id or None, note=entry.note,
                   created_at=entry.created_at)


class CreditsOut(Schema):
    """Every total is the sum of the ledger's rows of its kind: granted - charged + refunded = remaining."""

    success: Literal[True] = True
    remaining_credits: float
    total_granted: float
    total_charged: float = Field(description="Sum of all charges, as a positive number.")
    total_refunded: float
    entries: list[EntryOut]


@router.get("/credits", response={200: CreditsOut, **POLL}, summary="Your credit balance and recent ledger entries")
def credits_detail(request: ApiRequest, query: Query[LedgerQuery]) -> CreditsOut | HttpResponse:
    user = request.auth.owner
    if hit := not_modified(request, (versions.account_stamp(user_id=user.pk),)):  # moves with every ledger row
        return hit
    entries = selectors.ledger_for_user(user=user)[: query.limit]
    return CreditsOut(remaining_credits=credits(services.credit_balance(user=user)),
                      **selectors.ledger_totals(user=user), entries=[EntryOut.of(e) for e in entries])
