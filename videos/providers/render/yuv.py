"""8-bit YUV 4:2:0 planes as PIL "L" images, to and from the encoder's frames.

The conversion is swscale's (the one VideoWriter applies to RGB frames), so frames assembled
from these planes match RGB frames of the same picture.
"""

from __future__ import annotations

import av
import numpy as np
from PIL import Image

from .encode import to_yuv420p


def planes(image: Image.Image, size: tuple[int, int] | None = None) -> list[Image.Image]:
    """Y (full size), U and V (half size) of an RGB image, scaled bilinearly to `size` (even)
    on the way if given."""
    w, h = size or image.size
    a = to_yuv420p(np.asarray(image), (w, h)).to_ndarray()
    chroma = a[h:].reshape(2, h // 2, w // 2)
    return [Image.fromarray(a[:h]), Image.fromarray(chroma[0]), Image.fromarray(chroma[1])]


def video_frame(planes: list[Image.Image]) -> av.VideoFrame:
    """A yuv420p frame from Y, U and V planes (a new frame: the encoder may keep it a while)."""
    y, u, v = (np.asarray(p) for p in planes)
    h, w = y.shape
    return av.VideoFrame.from_ndarray(np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(h * 3 // 2, w),
                                      format="yuv420p")
