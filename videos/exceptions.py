"""Domain errors. The API maps each to the JSON error envelope once (dashboard/api.py)."""


class ApiError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class InvalidInput(ApiError):
    status = 400
    code = "invalid_parameter"


class UnsupportedValue(InvalidInput):
    """Well-formed, but not a value this model can honour (e.g. a length its id does not name)."""

    status = 422
    code = "unsupported_value"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class ModelUnavailable(ApiError):
    status = 503
    code = "model_unavailable"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
