"""The /v1 NinjaAPI: `Authorization: Bearer mcp_…` on our API keys, and OpenAI's error body for every failure."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from billing import services as billing
from billing.exceptions import InsufficientCredits
from billing.models import ApiKey
from dashboard.http import JsonErrorsApi
from openai_compat.errors import from_domain, openai_error
from videos.exceptions import ApiError

log = logging.getLogger(__name__)


class BearerKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        if not token or "\x00" in token:
            return None  # never reaches the database
        return billing.api_key_authenticate(token)


class OpenAIApi(JsonErrorsApi):
    """Unknown paths and wrong methods under /v1 answer in OpenAI's error shape too, not Django's HTML."""

    def not_allowed(self, request: HttpRequest, allow: str) -> HttpResponse:
        return openai_error(405, f"{request.method} is not allowed here; use {allow or 'another method'}.",
                            code="method_not_allowed", Allow=allow)

    def not_found(self, request: HttpRequest) -> HttpResponse:
        return openai_error(404, f"Invalid URL ({request.method} {request.path[:200]}).", code="unknown_url")


api = OpenAIApi(
    title="Video Generation API: OpenAI-compatible videos",
    version="1",
    description="OpenAI's videos API (`/v1/videos`) on our API keys (`Authorization: Bearer mcp_…`), "
                "backed by the same models, credits and ledger as /api/v3.",
    urls_namespace="openai",
    docs_url="/docs",
    docs=Swagger(settings={"validatorUrl": None}),  # from ninja's packaged files once "ninja" is an installed app
    auth=BearerKeyAuth(),
)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return from_domain(exc)


@api.exception_handler(InsufficientCredits)
def _insufficient(request: HttpRequest, exc: InsufficientCredits) -> HttpResponse:
    return from_domain(exc)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if request.headers.get("Authorization"):
        return openai_error(401, "Incorrect API key provided. You can find your API keys on your account page.",
                            code="invalid_api_key")
    return openai_error(401, "You didn't provide an API key. Send it as 'Authorization: Bearer mcp_…'.",
                        code="missing_api_key")


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in {"query", "path", "body", "filters"}]
    param = loc[-1] if loc else None
    return openai_error(400, f"Invalid value for '{param}': {first.get('msg', 'invalid')}." if param
                        else "Invalid request.", param=param, code="invalid_value")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return openai_error(exc.status_code, str(getattr(exc, "message", exc)))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return openai_error(404, "Not found.", code="not_found")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.error("unhandled /v1 error on %s", request.path, exc_info=exc)
    return openai_error(500, "The server had an error while processing your request. Please try again.",
                        code="internal_error")


def _register() -> None:
    from openai_compat.endpoints import router

    api.add_router("", router)


_register()
