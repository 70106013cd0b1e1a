"""What the bytes are: format sniffed from magic bytes, size read from the header before any decoding."""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass, field as dataclass_field

from PIL import Image

from .errors import ImageError, fail

MIN_SIDE = 16  # vendors reject smaller frames, and nothing that small is a real keyframe

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class AcceptedImage:
    """An image that passed every check. `data` is exactly the bytes received, never re-encoded."""

    data: bytes = dataclass_field(repr=False)
    content_type: str  # sniffed from the bytes: image/jpeg, image/png or image/webp
    width: int
    height: int

    @property
    def extension(self) -> str:
        """File extension without the dot: "jpg", "png" or "webp"."""
        return _EXTENSIONS[self.content_type]

    def base64(self) -> str:
        """The bytes as bare standard base64 (what vendors taking inline images want)."""
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        """`data:image/png;base64,...`"""
        return f"data:{self.content_type};base64,{self.base64()}"


def sniff(data: bytes) -> str | None:
    """The content type from the magic bytes, or None if not JPEG/PNG/WEBP. Headers and names lie."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode_data_uri(value: str, *, field: str, max_bytes: int) -> bytes:
    """The bytes of a `data:image/<type>[;params];base64,<payload>` URI, at most `max_bytes` of them.

    The declared type is not trusted (the bytes are sniffed later). The size is checked on the
    encoded text first, so an oversize payload is refused before it is decoded.
    """
    header, comma, payload = value.partition(",")
    header = header.lower()
    if not comma or not header.startswith("data:image/") or not header.endswith(";base64"):
        raise fail(field, "invalid_image", "a data URI must look like data:image/png;base64,<data>.")
    payload = _WHITESPACE.sub("", payload)  # clients wrap long base64 lines
    if len(payload) > 4 * -(-max_bytes // 3):
        raise too_large(field, max_bytes)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise fail(field, "invalid_image", "the data URI is not valid base64.") from None
    if not data:
        raise fail(field, "invalid_image", "the data URI is empty.")
    if len(data) > max_bytes:
        raise too_large(field, max_bytes)
    return data


def too_large(field: str, max_bytes: int) -> ImageError:
    """The error for a body or payload over `max_bytes` (shared with the URL fetcher)."""
    mib = 1024 * 1024
    limit = f"{max_bytes / mib:g} MB" if max_bytes >= mib else f"{max_bytes} bytes"
    return fail(field, "image_too_large", f"the image is larger than {limit}.")


def inspect(data: bytes, *, field: str, max_pixels: int) -> AcceptedImage:
    """Check `data` is a whole JPEG/PNG/WEBP of sensible size and return it as an `AcceptedImage`.

    Order matters: the format is sniffed, then only the header is parsed (`Image.open` is lazy) and
    the pixel count is capped, and only then are pixels decoded to prove the file is not truncated.
    A decompression bomb is therefore refused before a byte of its pixel buffer is allocated.
    """
    content_type = sniff(data)
    if content_type is None:
        raise fail(field, "unsupported_image_format", "only JPEG, PNG and WEBP images are supported.")
    kind = _PIL_FORMATS[content_type]
    too_many_pixels = fail(field, "image_too_large", f"the image has more than {max_pixels:,} pixels.")
    try:
        # formats=[...] pins the decoder to the sniffed format: no other plugin sees the bytes.
        img = Image.open(io.BytesIO(data), formats=[kind])
    except Image.DecompressionBombError:
        raise too_many_pixels from None
    except Exception:  # Pillow's parsers raise a zoo of types (SyntaxError, struct.error, ...)
        raise fail(field, "invalid_image", f"the {kind} image is corrupt or unreadable.") from None
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise too_many_pixels
        if min(width, height) < MIN_SIDE:
            raise fail(field, "invalid_image", f"the image must be at least {MIN_SIDE} px on each side.")
        try:
            _check_complete(img, kind)
        except Image.DecompressionBombError:
            raise too_many_pixels from None
        except Exception:
            raise fail(field, "invalid_image", f"the {kind} image is truncated or corrupt.") from None
    return AcceptedImage(data=data, content_type=content_type, width=width, height=height)


def _check_complete(img: Image.Image, kind: str) -> None:
    """Raise if the image data is truncated or corrupt. Callers have already capped the pixel count."""
    if kind == "PNG":
        img.verify()  # walks every chunk to IEND checking CRCs, without inflating the pixels
    elif kind == "JPEG":
        # Decoding at 1/8 scale still walks the whole entropy-coded stream, at 1/64 of the memory.
        img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
        img.load()
    else:
        img.load()  # libwebp has no cheaper validation; WEBP tops out at 16383 px a side anyway
