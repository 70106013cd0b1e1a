"""Typed errors: one class per kind of failure a caller handles differently."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """The API answered with an error. `status`, `code`, `message` and `field` come from its error envelope."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 field: str | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.body = body

    def __str__(self) -> str:
        where = f" (field: {self.field})" if self.field else ""
        return f"{self.message}{where}"


class AuthenticationError(APIError):
    """401: the API key is missing, wrong or revoked."""


class InsufficientCredits(APIError):
    """402: the account cannot pay for this; nothing was charged."""


class NotFound(APIError):
    """404: no such session or video (or it belongs to another account)."""


class ValidationError(APIError):
    """400/422: the request was refused; `field` names the culprit."""


class RateLimited(APIError):
    """429: too many requests; try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ModelUnavailable(APIError):
    """503: the model is disabled or its vendor is not configured."""


class ServerError(APIError):
    """5xx, or no usable answer at all."""


class GenerationFailed(APIError):
    """The video reached status `failed` (its credits are refunded by the server)."""

    def __init__(self, message: str, *, video: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.video = video


class WaitTimeout(APIError):
    """`wait()` gave up before the video finished (it may still finish: poll it again later)."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationError, 401: AuthenticationError, 402: InsufficientCredits, 403: AuthenticationError,
    404: NotFound, 422: ValidationError, 429: RateLimited, 503: ModelUnavailable,
}


def error_for(status: int, body: Any, headers: Any) -> APIError:
    """The typed error for an HTTP error answer (the spec's envelope, or anything else a proxy sent)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message, code, field = error.get("message") or f"HTTP {status}", error.get("code"), error.get("field")
    else:
        message, code, field = (error if isinstance(error, str) else f"HTTP {status}"), None, None
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    kwargs: dict[str, Any] = {"status": status, "code": code, "field": field, "body": body}
    if cls is RateLimited:
        try:
            kwargs["retry_after"] = float(headers.get("Retry-After"))
        except (TypeError, ValueError):
            kwargs["retry_after"] = None
    return cls(message, **kwargs)
