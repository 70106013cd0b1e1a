"""Project-level pages: the account page, liveness (/healthz), readiness (/readyz) and the operators' view of the
background processes (/admin/processes/). Sign-in, sign-out and password change are django.contrib.auth's."""

import time
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
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


_PROCESS_FIELDS = {"id", "host", "pid", "partition", "alive", "stopped", "beat_age_seconds", "last_work_age_seconds",
                   "up_seconds"}


def _process_state(process: dict[str, Any]) -> str:
    if process["alive"]:
        return "alive"
    return "stopped" if process["stopped"] else "gone (no heartbeat)"


@staff_member_required
@require_GET
def processes(request: HttpRequest) -> HttpResponse:
    """Operators: the session scheduler and the vendor poller (work due and lag from the database, each process's
    heartbeat), and the periodic sweeps' ages: what /readyz decides on, in a table."""
    background = []
    for kind, (what, command, _, _) in health.BACKGROUND.items():
        status = health.background_status(kind)
        background.append({
            "kind": kind, "what": what, "command": command, **status,
            "state": "not ready" if status["problem"] else ("warning" if status.get("warning") else "ok"),
            "rows": [{**p, "state": _process_state(p),
                      "counters": {k: v for k, v in p.items() if k not in _PROCESS_FIELDS}} for p in status["processes"]],
        })
    now = time.time()
    sweeps = [(name, round(now - at, 1) if at is not None else None) for name, at in health.sweep_times().items()]
    return render(request, "admin/processes.html", {
        **admin.site.each_context(request), "title": "Background processes", "background": background,
        "sweeps": sweeps, "sweep_stale": health.stale_after()})


@require_GET
def live_events(request: HttpRequest) -> HttpResponse:
    """The dashboard's live stream is served by the ASGI layer (dashboard.live). Reaching Django means a plain WSGI
    server: 204 tells EventSource not to reconnect, and the page keeps polling."""
    return HttpResponse(status=204)
