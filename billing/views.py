"""Dashboard pages of billing: API keys (Settings) and the credits ledger."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing import selectors, services
from billing.forms import ApiKeyForm
from billing.models import CreditEntry
from dashboard.http import HtmxHttpRequest
from videos import selectors as video_selectors


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
