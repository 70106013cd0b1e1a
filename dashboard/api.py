"""The /api/v3 NinjaAPI: authentication by X-API-Key and one mapping of errors to the JSON envelope.

Every answer is JSON, errors included: bad input (NUL characters, a body over the limit, a body that is
not JSON) is a 4xx naming the field, a wrong method is a 405 with `Allow`, an unknown path a 404.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyHeader

from billing import services as billing
from billing.exceptions import InsufficientCredits
from billing.models import ApiKey
from dashboard.http import JsonErrorsApi, error_response
from videos.exceptions import ApiError, PayloadTooLarge, RateLimited, UnsupportedMediaType
from videos.schemas import NUL_ERROR

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)


class ApiKeyAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        if key and "\x00" in key:
            return None  # never reaches the database; answered as an invalid key
        return billing.api_key_authenticate(key or "")


class JsonParser(Parser):
    """Bodies are JSON, sent as such: any other Content-Type is a 415 (nothing is created or charged)."""

    def parse_body(self, request: HttpRequest) -> Any:
        kind = (request.content_type or "").lower()
        if kind not in JSON_TYPES and not kind.endswith("+json"):
            raise UnsupportedMediaType(f"Send the body as JSON with Content-Type: application/json (got "
                                       f"'{kind[:60] or 'none'}').", field="Content-Type")
        return json.loads(request.body)


class VideoApi(JsonErrorsApi):
    """/api/v3: errors in the spec's envelope, and an OpenAPI document that says which headers they carry."""

    def not_allowed(self, request: HttpRequest, allow: str) -> HttpResponse:
        return error_response(405, "method_not_allowed",
                              f"{request.method} is not allowed here; use {allow or 'another method'}.", Allow=allow)

    def not_found(self, request: HttpRequest) -> HttpResponse:
        return error_response(404, "not_found", f"No such endpoint: {request.path[:200]}. See /api/v3/docs.")

    def get_openapi_operation_id(self, operation: Any) -> str:
        return operation.view_func.__name__  # generate, session_list, credits_detail…: clients' method names

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                responses = operation.get("responses", {})
                if operation.get("operationId") in CREATES:
                    created = responses.get(201) or responses.get("201")
                    created["links"] = _CREATE_LINKS
                if 429 in responses or "429" in responses:
                    limited = responses.get(429) or responses.get("429")
                    limited["headers"] = {"Retry-After": {
                        "description": "Seconds until the rate limit window resets.",
                        "schema": {"type": "integer", "minimum": 0}}}
        return schema


CREATES = {"generate", "session_create"}
# What a client does next with a create's answer (OpenAPI links; schemathesis follows them statefully).
_CREATE_LINKS = {
    "GetSession": {"operationId": "session_detail", "parameters": {"session_id": "$response.body#/session_id"},
                   "description": "Poll the session for its videos (the spec's step 2)."},
    "GetVideo": {"operationId": "video_detail", "parameters": {"video_id": "$response.body#/video_id"}},
    "StopSession": {"operationId": "session_stop", "parameters": {"session_id": "$response.body#/session_id"}},
    "DeleteSession": {"operationId": "session_delete", "parameters": {"session_id": "$response.body#/session_id"}},
}



api = VideoApi(
    title="Video Generation API",
    version="3",
    description="MCPHub-compatible video generation: text, image and keyframe to video, sessions, credits.\n\n"
                "Every error is `{\"success\": false, \"error\": {\"code\", \"message\", \"field\"}}`.",
    urls_namespace="api",
    docs_url="/docs",
    docs=Swagger(settings={"validatorUrl": None}),  # served from our static files: works offline
    auth=ApiKeyAuth(),
    parser=JsonParser(),
)


def rate_limit(key: ApiKey) -> None:
    """At most RATE_LIMIT_PER_MINUTE creations per key per minute: a fixed window counted in the database
    by one atomic upsert (billing.services.rate_hit), whatever the cache backend."""
    limit = settings.RATE_LIMIT_PER_MINUTE
    if not limit:
        return
    now = time.time()
    if billing.rate_hit(key=key, minute=int(now // 60)) > limit:
        raise RateLimited(f"Rate limit of {limit} requests a minute reached.", retry_after=max(1, 60 - int(now % 60)))


def _field_of(loc: list[object] | tuple[object, ...]) -> str | None:
    parts = [str(p) for p in loc if isinstance(p, str) and p not in {"body", "payload", "query", "filters", "path",
                                                                      "paging", "header"}]
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
    errors = list(exc.errors or [])
    nul = next((e for e in errors if e.get("type") == NUL_ERROR), None)
    if nul is not None:
        field = _field_of(nul.get("loc", ()))
        return error_response(400, "invalid_character", f"{field or 'A field'} must not contain NUL characters.",
                              field)
    first = errors[0] if errors else {}
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
    if isinstance(exc.__cause__, ApiError):  # raised by JsonParser, wrapped by ninja
        return _api_error(request, exc.__cause__)
    if isinstance(exc.__cause__, RequestDataTooBig):
        return _too_big(request, exc.__cause__)
    message = str(getattr(exc, "message", exc))
    if exc.status_code == 400 and "parse request body" in message:
        return error_response(400, "invalid_json", "The request body is not valid JSON.", "body")
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return error_response(exc.status_code, code, message)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _api_error(request, PayloadTooLarge(
        f"The request body is over the limit of {limit // (1024 * 1024)} MB (a 10 MB image fits as a data URI).",
        field="body"))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", "Not found.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.error("unhandled API error on %s", request.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side. Please try again.")


def _register() -> None:
    from billing.api import router as billing_router
    from videos.api.endpoints import router as videos_router

    api.add_router("", videos_router)
    api.add_router("", billing_router)
    api.add_router("", "webhooks.api.router")


_register()
