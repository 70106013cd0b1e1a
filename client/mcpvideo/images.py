"""Image arguments: URLs and data URIs go as they are; a local file is sent as a data URI."""

from __future__ import annotations

import base64
import mimetypes
import os

_SNIFF = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"))


def image_value(value: str | bytes | os.PathLike[str] | None) -> str | None:
    """`value` as the API takes it: an http(s) URL, a `data:` URI, or a local path/bytes turned into a data URI."""
    if value is None:
        return None
    if isinstance(value, bytes):
        data = value
        content_type = next((t for magic, t in _SNIFF if data.startswith(magic)), "image/png")
    else:
        text = os.fspath(value)
        if text.lower().startswith(("http://", "https://", "data:")):
            return text
        if not os.path.isfile(text):
            raise FileNotFoundError(f"no such image file: {text}")
        with open(text, "rb") as handle:
            data = handle.read()
        sniffed = next((t for magic, t in _SNIFF if data.startswith(magic)), None)
        content_type = sniffed or mimetypes.guess_type(text)[0] or "image/png"
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
