"""Dashboard pages of billing: API keys (Settings) and the credits ledger."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing import selectors, services
from billing.forms import ApiKeyForm
from billing.models import CreditEntry
from billing.usage import usage_for_user
from dashboard.http import HtmxHttpRequest
from videos import selectors as video_selectors
from videos.forms import PROVIDER_LABELS


def _keys_context(request: HtmxHttpRequest, **extra: Any) -> dict[str, Any]:
    return {"keys": selectors.api_keys_for_user(user=request.user), "form": ApiKeyForm(), **extra}


@login_required
@never_cache  # the response that shows a new key must not be stored anywhere
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def api_keys(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the user's keys. POST: create one; the response shows the raw key, the only time it exists."""
    template = "billing/api_keys.html"
    if request.method == "GET":
        return render(request, template, _keys_context(request))
    form = ApiKeyForm(request.POST)
    if request.htmx:
        template += "#keys-panel"
    if not form.is_valid():
        return render(request, template, {**_keys_context(request), "form": form}, status=422)
    key, raw = services.api_key_issue(user=request.user, name=form.cleaned_data["name"])
    return render(request, template, _keys_context(request, new_key=key, raw_key=raw), status=201)


@login_required
@require_POST
@vary_on_headers("HX-Request")
def api_key_revoke(request: HtmxHttpRequest, key_id: int) -> HttpResponse:
    """Revoke one of the user's keys (another account's: 404). Idempotent."""
    key = get_object_or_404(selectors.api_keys_for_user(user=request.user), pk=key_id)
    services.api_key_revoke(key=key)
    if request.htmx:
        return render(request, "billing/api_keys.html#keys-panel",
                      _keys_context(request, revoked=key))
    messages.success(request, f"Key {key.prefix}… revoked.")
    return redirect("billing:api-keys")


def _with_videos(entries: list[CreditEntry], request: HtmxHttpRequest) -> list[dict[str, Any]]:
    """Each ledger row with the video it belongs to, when that video still exists (deleted: id only)."""
    ids = {e.video_id for e in entries if e.video_id}
    found = video_selectors.videos_for_user(user=request.user).filter(public_id__in=ids)
    videos = {v.public_id: v for v in found}
    return [{"entry": e, "video": videos.get(e.video_id)} for e in entries]


@login_required
@require_GET
@vary_on_headers("HX-Request")
def credits(request: HtmxHttpRequest) -> HttpResponse:
    """Balance, totals and the ledger (newest first, paginated); to htmx paging, only the ledger."""
    page = Paginator(selectors.ledger_for_user(user=request.user), 25).get_page(request.GET.get("page"))
    context = {
        "balance": services.credit_balance(user=request.user),
        "totals": selectors.ledger_totals(user=request.user),
        "page": page,
        "rows": _with_videos(list(page.object_list), request),
        "query": "",
    }
    template = "billing/credits.html#ledger" if request.htmx else "billing/credits.html"
    return render(request, template, context)


USAGE_PERIODS = (7, 30, 90)
VENDOR_LABELS = {"local": "Local renderer (simulated)"}


@login_required
@require_GET
def usage(request: HtmxHttpRequest) -> HttpResponse:
    """Where the credits went and how the vendors did, as charts (Chart.js, vendored) with tables beside them."""
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    days = days if days in USAGE_PERIODS else 30
    data = usage_for_user(user=request.user, days=days)
    for row in data["by_vendor"]:
        row["label"] = VENDOR_LABELS.get(row["vendor"], PROVIDER_LABELS.get(row["vendor"], row["vendor"]))
    context = {"usage": data, "periods": USAGE_PERIODS, "balance": services.credit_balance(user=request.user)}
    return render(request, "billing/usage.html", context)


def _cell(value: str) -> str:
    """Text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def ledger_csv(request: HtmxHttpRequest) -> StreamingHttpResponse:
    """The whole ledger of the signed-in user as CSV, oldest first (streamed: it can be long)."""
    writer = csv.writer(_Echo())
    entries = selectors.ledger_for_user(user=request.user).order_by("created_at", "id")

    def rows() -> Iterator[str]:
        yield writer.writerow(["created_at", "kind", "amount", "balance_after", "video_id", "session_id", "note"])
        for entry in entries.iterator(chunk_size=500):
            yield writer.writerow([
                entry.created_at.isoformat().replace("+00:00", "Z"), entry.kind, f"{entry.delta:.2f}",
                f"{entry.balance_after:.2f}", entry.video_id, entry.session_id, _cell(entry.note),
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="credits-ledger-{stamp}.csv"'
    return response
