"""Project-level pages: the account page, liveness (/healthz) and readiness (/readyz). Sign-in, sign-out and password change are django.contrib.auth's."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing import services as billing
from dashboard import health
from dashboard.http import HtmxHttpRequest


@login_required
@require_GET
def account(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "dashboard/account.html", {"balance": billing.credit_balance(user=request.user)})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers HTTP. No database, no auth (a restart would not fix a dependency)."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, cache, broker, storage, the age of the last periodic sweep, and the session scheduler's
    and vendor poller's lag against their heartbeats; 503 when any fails.
    Only a named check can be asked for: /readyz?check=database&check=broker."""
    only = [c for c in request.GET.getlist("check") if c in health.CHECKS] or None
    ok, checks = health.readiness(only)
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503)


@require_GET
def live_events(request: HttpRequest) -> HttpResponse:
    """The dashboard's live stream is served by the ASGI layer (dashboard.live). Reaching Django means a plain WSGI
    server: 204 tells EventSource not to reconnect, and the page keeps polling."""
    return HttpResponse(status=204)
