"""8-bit YUV 4:2:0 planes as PIL "L" images, to and from the encoder's frames, and sprites that
paste RGB(A) pictures into such planes.

The conversion is swscale's (the one VideoWriter applies to RGB frames), so frames assembled
from these planes match RGB frames of the same picture.
"""

from __future__ import annotations

import threading

import av
import numpy as np
from PIL import Image

from . import view
from .encode import to_yuv420p


def planes(image: Image.Image, size: tuple[int, int] | None = None) -> list[Image.Image]:
    """Y (full size), U and V (half size) of an RGB image, scaled bilinearly to `size` (even)
    on the way if given."""
    w, h = size or image.size
    a = to_yuv420p(np.asarray(image), (w, h)).to_ndarray()
    chroma = a[h:].reshape(2, h // 2, w // 2)
    return [Image.fromarray(a[:h]), Image.fromarray(chroma[0]), Image.fromarray(chroma[1])]


def video_frame(planes: list[Image.Image]) -> av.VideoFrame:
    """A yuv420p frame from Y, U and V planes (from the output pool: see view.FramePool)."""
    return view.frame_of([np.asarray(p) for p in planes], view.frames)


def to_planes(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 RGB as (3, h, w) uint8 Y, U, V at full resolution (yuv444p), converted
    by swscale as the encoder's frames are."""
    return view.scale(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"),
                      (rgb.shape[1], rgb.shape[0]), "yuv444p").to_ndarray()


def _halve(a: np.ndarray) -> np.ndarray:
    """2x2 means over the last two axes (even sizes)."""
    total = a[..., 0::2, 0::2] + a[..., 1::2, 0::2]
    total += a[..., 0::2, 1::2]
    total += a[..., 1::2, 1::2]
    return total * 0.25


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


class Sprite:
    """An RGB picture, with optional coverage, as 4:2:0 planes to paste at any integer position.

    Y and its coverage are kept at full size. Chroma is half size, so a sprite at an odd x or y
    needs its chroma worked out on the grid it lands on: one version per parity of (x, y), made
    when first asked for. Where coverage is partial, chroma is the coverage-weighted mean of the
    2x2 block's colours (transparent pixels' colours do not bleed in)."""

    def __init__(self, rgb: np.ndarray, alpha: np.ndarray | None = None) -> None:
        self.height, self.width = rgb.shape[:2]
        y, *self.uv = to_planes(rgb)
        self.alpha = alpha
        self.y = Image.fromarray(y)
        self.mask = Image.fromarray(alpha) if alpha is not None else None
        self._chroma: dict[tuple[int, int], tuple[Image.Image, Image.Image, Image.Image | None]] = {}
        self._making = threading.Lock()

    def chroma(self, px: int, py: int) -> tuple[Image.Image, Image.Image, Image.Image | None]:
        """U, V and chroma coverage for a sprite whose top-left lands at parity (px, py)."""
        cached = self._chroma.get((px, py))
        if cached is not None:
            return cached
        with self._making:  # frames are made on two threads: make each version once
            cached = self._chroma.get((px, py))
            if cached is None:
                cached = self._chroma[(px, py)] = self._make_chroma(px, py)
        return cached

    def _make_chroma(self, px: int, py: int) -> tuple[Image.Image, Image.Image, Image.Image | None]:
        h, w = self.height + py, self.width + px
        pad = ((py, h % 2), (px, w % 2))  # onto the even grid: one row/column before, to even after
        uv = np.stack([np.pad(c, pad, mode="edge") for c in self.uv]).astype(np.float32)
        if self.alpha is None:
            a = np.pad(np.ones((self.height, self.width), np.float32), pad)  # padding is not the sprite
        else:
            a = np.pad(self.alpha.astype(np.float32) / 255, pad)
        cover = _halve(a)
        mean = _halve(uv * a) / np.maximum(cover, 1e-6)
        mean = np.where(cover > 0, mean, 128.0)
        return (Image.fromarray(_u8(mean[0])), Image.fromarray(_u8(mean[1])),
                None if (cover >= 1).all() else Image.fromarray(_u8(cover * 255)))

    def paste(self, planes: list[Image.Image], x: int, y: int) -> None:
        """Paste onto Y, U, V plane images at (x, y) of the Y plane (in place; clipped to them)."""
        planes[0].paste(self.y, (x, y), self.mask)
        u, v, cover = self.chroma(x % 2, y % 2)
        at = (x // 2, y // 2)  # the even grid point at or before (x, y), halved
        planes[1].paste(u, at, cover)
        planes[2].paste(v, at, cover)

    def blend(self, planes: list[np.ndarray], x: int, y: int, opacity: float = 1.0) -> None:
        """Paste onto Y, U, V arrays (e.g. a frame's own planes, view.planes_of) at (x, y), in
        place, its coverage scaled by `opacity`: only the sprite's rectangle is touched."""
        u, v, cover = self.chroma(x % 2, y % 2)
        masks = [self.mask, cover]
        if opacity < 1:
            table = [round(a * opacity) for a in range(256)]
            masks = [(m or Image.new("L", size, 255)).point(table)
                     for m, size in ((self.mask, self.y.size), (cover, u.size))]
        for plane, image, mask, (px, py) in ((planes[0], self.y, masks[0], (x, y)),
                                             (planes[1], u, masks[1], (x // 2, y // 2)),
                                             (planes[2], v, masks[1], (x // 2, y // 2))):
            h, w = plane.shape
            x0, y0 = max(0, px), max(0, py)
            x1, y1 = min(w, px + image.width), min(h, py + image.height)
            if x1 <= x0 or y1 <= y0:
                continue
            region = Image.fromarray(plane[y0:y1, x0:x1])
            region.paste(image, (px - x0, py - y0), mask)
            plane[y0:y1, x0:x1] = np.asarray(region)
