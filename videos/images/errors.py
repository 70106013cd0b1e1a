"""The one exception every image check raises, so callers map a single type to a 400."""

from __future__ import annotations

from typing import Any

CODES = frozenset(
    {
        "invalid_image",
        "image_too_large",
        "image_fetch_failed",
        "forbidden_address",
        "unsupported_image_format",
    }
)


class ImageError(Exception):
    """An image the client sent (or pointed at) was refused.

    `field` is the request field at fault (`head_image`, `tail_image`), `code` one of `CODES`, and
    `message` is safe to show the API client: it never carries URLs, credentials or resolved addresses.
    """

    def __init__(self, message: str, *, field: str, code: str = "invalid_image") -> None:
        if code not in CODES:
            raise ValueError(f"unknown image error code {code!r}")
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat the default pickling; Celery results and logging may pickle us.
        return (_rebuild, (self.message, self.field, self.code))

    def __repr__(self) -> str:
        return f"ImageError({self.message!r}, field={self.field!r}, code={self.code!r})"


def _rebuild(message: str, field: str, code: str) -> ImageError:
    return ImageError(message, field=field, code=code)


# How an operator serves images from their own network (a local file server, a LAN host): said in the error.
FORBIDDEN_HINT = (" To fetch images from a host on your own network, the server's operator can allow it with "
                  "IMAGE_FETCH_ALLOW_HOSTS=<host>[,<host>...] (e.g. IMAGE_FETCH_ALLOW_HOSTS=localhost).")


def fail(field: str, code: str, text: str) -> ImageError:
    """Build an error whose message names the field: `fail("head_image", "invalid_image", "is empty.")`.
    A forbidden address also says which setting allows such hosts."""
    if code == "forbidden_address" and "IMAGE_FETCH_ALLOW_HOSTS" not in text:
        text += FORBIDDEN_HINT
    return ImageError(f"{field}: {text}", field=field, code=code)
