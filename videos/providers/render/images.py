"""Turning the caller's encoded images into frames of the output size."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter, ImageOps

# Decoding is bounded by the caller's pixel cap; this is a last line of defence against bombs.
MAX_PIXELS = 64_000_000


def decode(data: bytes) -> Image.Image:
    """Decode JPEG/PNG/WEBP bytes to an upright RGB image; ValueError if they are not an image."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise ValueError(f"image too large: {image.width}x{image.height}")
        image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
        if image.mode in ("RGBA", "LA", "P"):
            # Transparent areas become black rather than whatever colour the encoder left there.
            image = image.convert("RGBA")
            flat = Image.new("RGB", image.size)
            flat.paste(image, mask=image.getchannel("A"))
            return flat
        return image.convert("RGB")
    except (OSError, Image.DecompressionBombError, SyntaxError) as e:
        raise ValueError(f"not a decodable image: {e}") from e


def cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to fill `size` exactly and crop the overflow, centred: no letterbox bars."""
    return ImageOps.fit(image, size, method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def fitted(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The frame an input image becomes: decoded, then cover-cropped to `size`."""
    return cover(decode(data), size)


def pad_reflect(image: Image.Image, pad: tuple[int, int]) -> Image.Image:
    """Extend the image by mirroring its borders, softened and darkened outward.

    Zooming out of an image-to-video first frame must show *something* beyond the picture; a
    blurred mirror reads as a vignette instead of the hard bars a black pad would give.
    """
    px, py = pad
    a = np.asarray(image)
    padded = np.pad(a, ((py, py), (px, px), (0, 0)), mode="symmetric")
    soft = np.asarray(Image.fromarray(padded).filter(ImageFilter.GaussianBlur(max(px, py) / 6 + 1)))
    h, w = padded.shape[:2]
    # 0 inside the original picture, rising to 1 at the outer edge of the pad.
    dx = np.clip(np.maximum(px - np.arange(w), np.arange(w) - (w - 1 - px)) / max(px, 1), 0, 1)
    dy = np.clip(np.maximum(py - np.arange(h), np.arange(h) - (h - 1 - py)) / max(py, 1), 0, 1)
    d = np.maximum(dx[None, :], dy[:, None])[..., None]
    out = padded * (1 - d) + soft * d * (1 - 0.35 * d)
    out[py:py + image.height, px:px + image.width] = a  # the picture itself stays bit-exact
    return Image.fromarray(out.astype(np.uint8))
