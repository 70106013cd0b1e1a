"""Typed requests and the JSON error envelope shared by the API and its handlers."""

from typing import Any

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
    """`{"success": false, "error": {"code", "message", "field"}}` with `status`."""
    body: dict[str, Any] = {"success": False, "error": {"code": code, "message": message, "field": field}}
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response
