"""/api/v3/credits: the balance and the latest ledger rows."""

from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from billing import selectors, services
from dashboard.http import ApiRequest

router = Router(tags=["credits"])


class LedgerQuery(Schema):
    limit: int = Field(20, ge=1, le=100)


@router.get("/credits", response=dict, summary="Your credit balance and recent ledger entries")
def credits(request: ApiRequest, query: Query[LedgerQuery]) -> dict[str, Any]:
    user = request.auth.owner
    entries = selectors.ledger_for_user(user=user)[: query.limit]
    return {
        "success": True,
        "remaining_credits": float(services.credit_balance(user=user)),
        **selectors.ledger_totals(user=user),
        "entries": [selectors.entry_dict(e) for e in entries],
    }
