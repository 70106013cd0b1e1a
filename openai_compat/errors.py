"""OpenAI's error body, `{"error": {"message", "type", "param", "code"}}`, and our domain errors mapped to it."""

from __future__ import annotations

from django.http import JsonResponse

from billing.exceptions import InsufficientCredits
from videos.exceptions import ApiError, ModelUnavailable, NotFound, RateLimited

# Our request fields, named as an OpenAI client sent them.
PARAM_NAMES = {
    "duration": "seconds", "head_image": "input_reference", "width": "size", "height": "size",
    "aspect_ratio": "size", "resolution": "size", "session_id": "video_id",
}
TYPES = {429: "rate_limit_error", 500: "server_error", 503: "server_error"}  # else invalid_request_error


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str | None = None, **headers: str) -> JsonResponse:
    body = {"error": {"message": message, "type": type_ or TYPES.get(status, "invalid_request_error"),
                      "param": PARAM_NAMES.get(param or "", param), "code": code}}
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def from_domain(exc: Exception) -> JsonResponse:
    """One table from domain errors to OpenAI's statuses and error types."""
    if isinstance(exc, InsufficientCredits):
        # OpenAI answers an exhausted balance with 429 insufficient_quota; retrying cannot help, so say so.
        return openai_error(429, f"You exceeded your current quota: {exc}", param=None, code="insufficient_quota",
                            type_="insufficient_quota", x_should_retry="false")
    if isinstance(exc, RateLimited):
        return openai_error(429, exc.message, code="rate_limit_exceeded", Retry_After=str(exc.retry_after))
    if isinstance(exc, NotFound):
        return openai_error(404, exc.message, param=exc.field, code="not_found")
    if isinstance(exc, ModelUnavailable):
        return openai_error(503, exc.message, param=exc.field, code=exc.code, x_should_retry="false")
    if isinstance(exc, ApiError):  # OpenAI answers every refused parameter with a 400
        return openai_error(400 if exc.status == 422 else exc.status, exc.message, param=exc.field, code=exc.code)
    raise TypeError(exc)
