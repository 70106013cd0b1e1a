"""One middleware for what an operator sees of each request: a request id on every log line (echoed as
X-Request-ID), the HTTP metrics by route and status, and one `http.request` log line."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from dashboard import logs, metrics

log = logging.getLogger("dashboard.http")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_QUIET = {"healthz", "readyz", "metrics"}  # probes and scrapes: logged at DEBUG only


class ObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            elapsed = time.perf_counter() - started
            route = metrics.http_observed(request, response.status_code, elapsed)
            response["X-Request-ID"] = rid
            level = logging.DEBUG if route in _QUIET else logging.INFO
            log.log(level, "http.request", extra={"method": request.method, "route": route,
                                                  "status": response.status_code,
                                                  "duration_ms": round(elapsed * 1000, 1)})
            return response
        finally:
            logs.request_id.reset(token)
