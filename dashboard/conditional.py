"""Conditional GETs for the JSON APIs: `ETag` / `If-None-Match` (RFC 9110 §8.8.3, §13.1.2) and `Retry-After`.

A view reads a cheap *version* of what its answer shows (a few stamps and counters in one query, see
videos/versions.py) before it reads or serializes anything else, and calls `not_modified(request, version)`:
- the tag hashes that version with what else decides the body: the path and query string, the base URL the
  file links are made with, the hour their signatures expire at, and SCHEMA (bump it when an output changes);
- when `If-None-Match` names the tag (weak comparison, lists and `*` included), the answer is a 304 with
  the tag (and the Retry-After hint) and no body;
- otherwise the view goes on, and JsonErrorsApi puts the same headers on its 200.

The tags are weak (`W/"…"`): the body also carries estimates that move between two changes (`eta_seconds`
counts down, signed links are renewed each hour) that the tag leaves out on purpose; two answers with the
same tag are the same state of the resource, not the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse

from videos.files import base_url, url_expiry

SCHEMA = "3.2"  # bump when an answer's shape changes: tags given out before must not match any more
HEADERS_ATTR = "conditional_headers"  # where a view leaves the headers for its 200 (dashboard.http applies them)


def etag(request: HttpRequest, version: Iterable[Any]) -> str:
    raw = "\x1f".join(map(str, (SCHEMA, request.get_full_path(), base_url(request), url_expiry(), *version)))
    return 'W/"' + hashlib.blake2b(raw.encode(), digest_size=12).hexdigest() + '"'


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def matches(header: str | None, tag: str) -> bool:
    """If-None-Match names `tag`: `*`, or any tag of the list by weak comparison (§13.1.2: GET uses weak)."""
    if not header:
        return False
    header = header.strip()
    if header == "*":
        return True
    ours = _opaque(tag)
    return any(_opaque(part.strip()) == ours for part in header.split(",") if part.strip())


def not_modified(request: HttpRequest, version: Iterable[Any], *, retry_after: int | None = None,
                 ) -> HttpResponse | None:
    """The 304 when the client holds the current state; else None, with the headers kept for the 200."""
    headers = {"ETag": etag(request, version)}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if matches(request.headers.get("If-None-Match"), headers["ETag"]):
        response = HttpResponse(status=304)
        del response["Content-Type"]
        for name, value in headers.items():
            response[name] = value
        return response
    setattr(request, HEADERS_ATTR, headers)
    return None


def apply(request: HttpRequest, response: Any) -> None:
    """Put the tag and hint a view computed on its 200 (errors carry neither)."""
    headers = getattr(request, HEADERS_ATTR, None)
    if headers and response.status_code == 200:
        for name, value in headers.items():
            response[name] = value


IF_NONE_MATCH = {
    "name": "If-None-Match", "in": "header", "required": False,
    "description": "ETags of answers you hold (a list, or `*`): when one is current, the answer is a 304 "
                   "with no body.",
    "schema": {"type": "string"},
}
ETAG = {"description": "Weak validator of this answer: send it back in If-None-Match.", "required": True,
        "schema": {"type": "string", "example": 'W/"5c0b1e8f3a9d2c4b7e6f1a2d"'}}
RETRY_AFTER = {"description": "Seconds before polling again is worth it; only while the work is unfinished.",
               "schema": {"type": "integer", "minimum": 1}}


def openapi_document(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the conditional GETs of an API's OpenAPI document: every GET that may answer 304 takes
    If-None-Match, and its 200 and 304 carry ETag (and Retry-After)."""
    for item in schema.get("paths", {}).values():
        operation = item.get("get")
        if not operation:
            continue
        responses = operation.get("responses", {})
        not_modified_ = responses.get(304) or responses.get("304")
        if not_modified_ is None:
            continue
        not_modified_["description"] = "Not Modified: the ETag you sent is current (no body)."
        not_modified_.pop("content", None)
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == "If-None-Match" for p in parameters):
            parameters.append(dict(IF_NONE_MATCH))
        for status in (200, 304):
            response = responses.get(status) or responses.get(str(status))
            if response is not None:
                response.setdefault("headers", {}).update({"ETag": dict(ETAG), "Retry-After": dict(RETRY_AFTER)})
    return schema
