"""Sessions: the list with its summary, a session's live page, stop and delete."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from dashboard.http import HtmxHttpRequest
from videos import selectors, services
from videos.exceptions import NotFound
from videos.forms import SessionFilterForm
from videos.models import GenerationSession
from videos.views.common import cards, page_of, query_without_page


def _session(request: HtmxHttpRequest, session_id: str) -> GenerationSession:
    """The user's session or 404: another account's session is simply absent (selectors decide)."""
    try:
        return selectors.session_get(user=request.user, public_id=session_id)
    except NotFound:
        raise Http404("No such session.") from None


def _after(request: HtmxHttpRequest) -> int:
    """The last video sequence the page already shows (-1: none)."""
    try:
        return int(request.GET.get("after", request.POST.get("after", -1)))
    except ValueError:
        return -1


def _max_spend(session: GenerationSession) -> Decimal:
    """max_videos × the price of one, or as many as its budget pays for (counting no refunds)."""
    price = session.model.price_for(session.params.get("duration", session.model.duration))
    videos = session.max_videos
    if session.budget_credits is not None:
        videos = min(videos, int(session.budget_credits // price))
    return price * videos


def _status_context(request: HtmxHttpRequest, session: GenerationSession, *, after: int) -> dict[str, Any]:
    """The status card plus the videos newer than `after` (the poll appends them out of band)."""
    videos = list(selectors.session_videos(session=session))
    new = [v for v in videos if v.sequence > after]
    last = max((v.sequence for v in videos), default=-1)
    return {
        "session": session,
        "new_cards": cards(request, new),
        "last_sequence": last,
        "can_stop": not session.is_final,
        # At most max_videos × the price of one (what the services charge per video): shown before it is spent.
        "max_spend": _max_spend(session),
        "next_video_at": session.next_run_at if not session.is_final else None,
    }


@login_required
@require_GET
@vary_on_headers("HX-Request")
def session_list(request: HtmxHttpRequest) -> HttpResponse:
    """The page with the summary, or to htmx (filters, pagination) only the list."""
    form = SessionFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.sessions_for_user(user=request.user, status=filters.get("status") or None,
                                     search=filters.get("search") or None)
    page = page_of(request, qs, per_page=20)
    context = {"form": form, "page": page, "query": query_without_page(request),
               "stats": selectors.session_stats(user=request.user), "filtered": any(filters.values())}
    template = "videos/sessions.html#session-list" if request.htmx else "videos/sessions.html"
    return render(request, template, context)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def session_detail(request: HtmxHttpRequest, session_id: str) -> HttpResponse:
    """The session page. To htmx polling `#session-status`: the status card, with new videos out of band."""
    session = _session(request, session_id)
    if request.htmx and request.htmx.target == "session-status":
        return render(request, "videos/session_detail.html#session-poll",
                      _status_context(request, session, after=_after(request)))
    context = _status_context(request, session, after=-1)
    return render(request, "videos/session_detail.html", context)


@login_required
@require_POST
def session_stop(request: HtmxHttpRequest, session_id: str) -> HttpResponse:
    """Stop making videos (idempotent). htmx gets the refreshed status card; others go back to the page."""
    session = services.session_stop(session=_session(request, session_id))
    if request.htmx:
        session = _session(request, session_id)  # re-read with its annotations (counts, credits)
        return render(request, "videos/session_detail.html#session-poll",
                      _status_context(request, session, after=_after(request)))
    messages.success(request, f"Session {session.public_id} stopped.")
    return redirect("videos:session-detail", session.public_id)


@login_required
@require_http_methods(["GET", "POST"])
def session_delete(request: HtmxHttpRequest, session_id: str) -> HttpResponse:
    """GET: a confirmation page (no JavaScript needed). POST: delete the session, its videos and files."""
    session = _session(request, session_id)
    if request.method == "GET":
        return render(request, "videos/session_delete.html", {"session": session})
    count = services.session_delete(session=session)
    messages.success(request, f"Session {session_id} and {count} video{'s' if count != 1 else ''} deleted.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("videos:sessions"))
    return redirect("videos:sessions")
