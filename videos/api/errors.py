"""The error answers each kind of endpoint can give, for the OpenAPI document (dashboard/api.py makes them)."""

from __future__ import annotations

from typing import Any

from videos.api.outputs import ErrorOut

# 400 bad input (a NUL character, bad JSON, a field the model cannot honour), 401 no or bad X-API-Key,
# 404 no such id (another account's ids included), 402 not enough credits, 413 body over the limit,
# 415 body not JSON, 422 schema validation, 429 rate limit (with Retry-After), 503 model unavailable,
# 500 a fault of ours (logged; the envelope still holds).
PUBLIC: dict[int, Any] = {400: ErrorOut, 422: ErrorOut, 500: ErrorOut}
READ: dict[int, Any] = {**PUBLIC, 401: ErrorOut}
READ_ONE: dict[int, Any] = {**READ, 404: ErrorOut}
WRITE_ONE: dict[int, Any] = {**READ_ONE}
# GETs answer 304 Not Modified (no body) when If-None-Match names the current ETag (dashboard.conditional);
# VideoApi.get_openapi_schema declares the header parameter and the ETag / Retry-After response headers.
NOT_MODIFIED: dict[int, Any] = {304: None}
PUBLIC_POLL: dict[int, Any] = {**PUBLIC, **NOT_MODIFIED}
POLL: dict[int, Any] = {**READ, **NOT_MODIFIED}
POLL_ONE: dict[int, Any] = {**READ_ONE, **NOT_MODIFIED}
CREATE: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 402: ErrorOut, 413: ErrorOut, 415: ErrorOut,
                          422: ErrorOut, 429: ErrorOut, 500: ErrorOut, 503: ErrorOut}
