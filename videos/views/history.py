"""History: the user's videos as a grid, filtered by status and model, searched by prompt, paginated."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.http import HtmxHttpRequest
from videos import selectors
from videos.forms import HistoryFilterForm
from videos.views.common import cards, page_of, query_without_page


@login_required
@require_GET
@vary_on_headers("HX-Request")
def history(request: HtmxHttpRequest) -> HttpResponse:
    """The page, or to htmx (filters, pagination) only the grid. Bad filter values are ignored."""
    form = HistoryFilterForm(request.GET, models=list(selectors.catalog(include_disabled=True)))
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.videos_for_user(user=request.user, status=filters.get("status") or None,
                                   model=filters.get("model") or None, search=filters.get("search") or None)
    page = page_of(request, qs)
    context = {"form": form, "page": page, "cards": cards(request, page.object_list),
               "query": query_without_page(request), "filtered": any(filters.values())}
    template = "videos/history.html#video-grid" if request.htmx else "videos/history.html"
    return render(request, template, context)
