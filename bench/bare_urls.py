"""The production URLs plus one bare JSON view, for bench/api_poll.py's baseline (never deployed).

The view goes through every middleware, as each API request does, and touches nothing else: no database, no
cache, no authentication. /healthz is the same minus its log line (probes log at DEBUG)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from dashboard.urls import urlpatterns as production


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [path("bench/bare", bare), *production]
