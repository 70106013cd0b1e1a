"""Typed requests and the JSON error envelope shared by the API and its handlers."""

from django.contrib.auth.models import User
from django.http import HttpRequest, JsonResponse
from django_htmx.middleware import HtmxDetails

from billing.models import ApiKey


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
