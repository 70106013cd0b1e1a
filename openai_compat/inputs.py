"""A `POST /v1/videos` body (JSON or multipart, as the `openai` SDK sends it) turned into our GenerateIn.

OpenAI's names map onto the spec's request: `seconds` → duration, `size` ("1280x720") → width, height and
aspect ratio, `input_reference` (an upload, or `{"image_url": …}`) → head_image, `sora-2` → the catalog's
Sora models. Everything else is checked by `services.request_validate`, as for /api/v3.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from pydantic import ValidationError

from videos.catalog import ALL_RATIOS
from videos.exceptions import InvalidInput
from videos.schemas import GenerateIn

# `sora-2` and `sora-2-pro` are catalog ids themselves; OpenAI's dated snapshots map onto them.
# Any other catalog id is accepted as well.
MODEL_ALIASES = {
    "sora-2-2025-10-06": "sora-2",
    "sora-2-2025-12-08": "sora-2",
    "sora-2-pro-2025-10-06": "sora-2-pro",
}
SORA_MODELS = {"sora-2", "sora-2-pro", "sora-2-4s-720p-t2v"}
DEFAULT_MODEL = "sora-2"
DEFAULT_SORA_SIZE = "720x1280"  # OpenAI's default for the Sora models
MAX_UPLOAD = 10 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")
_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")


def _aspect_ratio(width: int, height: int) -> str:
    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log((width / height) / (int(w) / int(h))))

    best = min(ALL_RATIOS, key=distance)
    if distance(best) > 0.03:
        raise InvalidInput(f"size {width}x{height} has no supported aspect ratio ({', '.join(ALL_RATIOS)}).",
                           field="size")
    return best


def _size(value: Any) -> dict[str, Any]:
    match = _SIZE.match(value) if isinstance(value, str) else None
    if not match:
        raise InvalidInput("size must be formatted as width x height, e.g. 1280x720.", field="size")
    width, height = int(match[1]), int(match[2])
    return {"width": width, "height": height, "aspect_ratio": _aspect_ratio(width, height)}


def _seconds(value: Any) -> int:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise InvalidInput("seconds must be a whole number of seconds, e.g. \"4\".", field="seconds")
    return int(text)


def _upload_as_data_uri(upload: UploadedFile) -> str:
    if upload.size is not None and upload.size > MAX_UPLOAD:
        raise InvalidInput("input_reference is larger than 10 MB.", field="input_reference")
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidInput("input_reference is larger than 10 MB.", field="input_reference")
    declared = (upload.content_type or "").lower()
    kind = declared.split("/", 1)[1] if declared.startswith("image/") else "unknown"  # sniffed from the bytes later
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def _reference(value: Any) -> str | None:
    """`input_reference` as sent in JSON: a URL or data URI, or OpenAI's `{"image_url": …}` object."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        if value.get("file_id"):
            raise InvalidInput("input_reference.file_id is not supported here: upload the image, or send "
                               "input_reference.image_url (an https URL or a data URI).", field="input_reference")
        value = value.get("image_url")
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("input_reference must be an image upload, an image URL or a data URI.",
                           field="input_reference")
    return value


class BodyTooLarge(InvalidInput):
    status = 413
    code = "request_too_large"


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        return _parse(request)
    except RequestDataTooBig:
        raise BodyTooLarge("The request body is too large: send input_reference as a multipart file upload "
                           "(up to 10 MB) or as an image URL.", field="body") from None
    except (MultiPartParserError, SuspiciousOperation):
        raise InvalidInput("The multipart/form-data body could not be parsed.", field="body",
                           code="invalid_body") from None


def _parse(request: HttpRequest) -> dict[str, Any]:
    content_type = (request.content_type or "").lower()
    if content_type.startswith("multipart/form-data") or content_type == "application/x-www-form-urlencoded":
        fields: dict[str, Any] = {k: request.POST.get(k) for k in _FIELDS if k in request.POST}
        if upload := request.FILES.get("input_reference"):
            fields["input_reference"] = _upload_as_data_uri(upload)
        elif "input_reference[file_id]" in request.POST:
            fields["input_reference"] = {"file_id": request.POST["input_reference[file_id]"]}
        elif "input_reference[image_url]" in request.POST:
            fields["input_reference"] = {"image_url": request.POST["input_reference[image_url]"]}
        return fields
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("We could not parse the JSON body of your request.", field="body",
                           code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.", field="body", code="invalid_json")
    return body


def create_payload(request: HttpRequest) -> GenerateIn:
    """The request as a GenerateIn, or InvalidInput naming OpenAI's field. Nothing is fetched or charged here."""
    body = _body(request)
    for name in _FIELDS:
        if isinstance(body.get(name), str) and "\x00" in body[name]:
            raise InvalidInput(f"{name} must not contain NUL characters.", field=name)
    requested = body.get("model") or DEFAULT_MODEL
    if not isinstance(requested, str):
        raise InvalidInput("model must be a string, e.g. sora-2.", field="model")
    model_id = MODEL_ALIASES.get(requested.strip(), requested.strip())
    fields: dict[str, Any] = {"prompt": body.get("prompt"), "model": model_id}
    size = body.get("size") or (DEFAULT_SORA_SIZE if model_id in SORA_MODELS else None)
    if size is not None:
        fields.update(_size(size))
    if body.get("seconds") not in (None, ""):
        fields["duration"] = _seconds(body["seconds"])
    fields["head_image"] = _reference(body.get("input_reference"))
    try:
        return GenerateIn(**{k: v for k, v in fields.items() if v is not None or k == "prompt"})
    except ValidationError as e:
        first = e.errors()[0]
        name = str(first["loc"][0]) if first.get("loc") else None
        message = f"{name} is required." if first.get("type") == "missing" else f"{name}: {first.get('msg')}"
        if name == "prompt" and first.get("type") in {"string_type", "string_too_short"}:
            message = "prompt must be a non-empty string."
        raise InvalidInput(message, field=name) from None
