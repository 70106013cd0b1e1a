"""The /api/v3 NinjaAPI: authentication by X-API-Key and one mapping of errors to the JSON envelope."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyHeader

from billing import services as billing
from billing.exceptions import InsufficientCredits
from billing.models import ApiKey
from dashboard.http import error_response
from videos.exceptions import ApiError, RateLimited

log = logging.getLogger(__name__)


class ApiKeyAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        return billing.api_key_authenticate(key or "")


api = NinjaAPI(
    title="Video Generation API",
    version="3",
    description="MCPHub-compatible video generation: text, image and keyframe to video, sessions, credits.",
    urls_namespace="api",
    docs_url="/docs",
    auth=ApiKeyAuth(),
)


def rate_limit(key: ApiKey) -> None:
    """At most RATE_LIMIT_PER_MINUTE creations per key per minute (fixed window in the shared cache)."""
    limit = settings.RATE_LIMIT_PER_MINUTE
    if not limit:
        return
    import time

    window = int(time.time() // 60)
    name = f"rl:{key.pk}:{window}"
    cache.add(name, 0, 70)
    if cache.incr(name) > limit:
        raise RateLimited(f"Rate limit of {limit} requests a minute reached.", retry_after=60 - int(time.time() % 60))


def _field_of(loc: list[object] | tuple[object, ...]) -> str | None:
    parts = [str(p) for p in loc if isinstance(p, str) and p not in {"body", "payload", "query", "filters", "path"}]
    return parts[-1] if parts else None


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
    return error_response(exc.status, exc.code, exc.message, exc.field, **headers)


@api.exception_handler(InsufficientCredits)
def _insufficient(request: HttpRequest, exc: InsufficientCredits) -> HttpResponse:
    return error_response(402, "insufficient_credits", str(exc), "credits")


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    has_key = bool(request.headers.get("X-API-Key"))
    message = "This API key is invalid or revoked." if has_key else "Send your API key in the X-API-Key header."
    return error_response(401, "invalid_api_key" if has_key else "missing_api_key", message, "X-API-Key")


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    field = _field_of(first.get("loc", ()))
    message = first.get("msg", "Invalid request")
    if first.get("type") == "json_invalid" or "JSON" in str(message):
        return error_response(400, "invalid_json", "The request body is not valid JSON.", "body")
    if first.get("type") == "missing":
        message = f"{field} is required." if field else "A required field is missing."
    elif field:
        message = f"{field}: {message}"
    return error_response(422, "validation_error", message, field)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(getattr(exc, "message", exc))
    if exc.status_code == 400 and "parse request body" in message:
        return error_response(400, "invalid_json", "The request body is not valid JSON.", "body")
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return error_response(exc.status_code, code, message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", "Not found.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled API error on %s", request.path)
    return error_response(500, "internal_error", "Something went wrong on our side. Please try again.")


def _register() -> None:
    from billing.api import router as billing_router
    from videos.api import router as videos_router

    api.add_router("", videos_router)
    api.add_router("", billing_router)
    api.add_router("", "webhooks.api.router")


_register()
