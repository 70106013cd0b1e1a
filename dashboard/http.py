"""Typed requests and the JSON error envelope shared by the API and its handlers."""

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, re_path
from django_htmx.middleware import HtmxDetails
from ninja import NinjaAPI

from billing.models import ApiKey
from dashboard import conditional, pollcache


class ApiRequest(HttpRequest):
    auth: ApiKey


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User


def error_response(status: int, code: str, message: str, field: str | None = None, **headers: str) -> JsonResponse:
    """`{"success": false, "error": {"code", "message", "field"}}` with `status` (videos.api.outputs.ErrorOut)."""
    from videos.api.outputs import ErrorDetail, ErrorOut

    body = ErrorOut(error=ErrorDetail(code=code, message=message, field=field)).model_dump()
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class JsonErrorsApi(NinjaAPI):
    """A NinjaAPI whose wrong methods and unknown paths answer in the API's own JSON error shape, never
    Django's HTML. Subclasses say how those answers look: `not_allowed` and `not_found`."""

    def not_allowed(self, request: HttpRequest, allow: str) -> HttpResponse:
        raise NotImplementedError

    def not_found(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        return conditional.openapi_document(super().get_openapi_schema(**kwargs))

    @property
    def urls(self) -> tuple[list[Any], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = self._json_errors(pattern.callback)

        def unknown(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return self.not_found(request)

        unknown.csrf_exempt = True  # type: ignore[attr-defined]
        patterns.append(re_path(r"^.*$", unknown, name="unknown"))
        return patterns, app_name, namespace

    def _json_errors(self, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                response = view(request, *args, **kwargs)
            except Http404:  # e.g. the API's root: JSON like every other answer
                return self.not_found(request)
            if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
                return self.not_allowed(request, response.get("Allow", ""))
            conditional.apply(request, response)  # a GET's ETag and Retry-After (dashboard.conditional)
            pollcache.note(request, response)  # a settled poll: the ASGI layer may replay it (dashboard.fastpoll)
            return response

        return wrapper
