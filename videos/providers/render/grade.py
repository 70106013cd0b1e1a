"""The `strategy` looks, applied to the small working canvas before upscaling (cheap)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops

from .terrain import to_u8

_LUMA = np.asarray((0.299, 0.587, 0.114), np.float32)


class Grade:
    """Colour treatment for one strategy; `apply` works in place on a float32 (h, w, 3) canvas.

    cinematic: teal shadows / orange highlights, contrast, 2.39:1 letterbox bars (see `bars`);
    animated: flat posterised colours with dark outlines; artistic: saturated, painterly texture;
    realistic (and None): neutral, with fine moving film grain on realistic.
    """

    def __init__(self, strategy: str | None, size: tuple[int, int], rng: np.random.Generator) -> None:
        self.strategy = strategy
        w, h = size
        if strategy == "realistic":
            self.grain = [rng.normal(0, 0.025, (h, w, 1)).astype(np.float32) for _ in range(4)]
            # The same grain on the luma (an equal change of R, G and B moves Y by 219/255 of it):
            # what it adds and what it takes away, as 8-bit images for saturating C adds.
            self.luma_grain = [(Image.fromarray(to_u8(np.maximum(g[..., 0], 0) * 219 / 255)),
                                Image.fromarray(to_u8(np.maximum(-g[..., 0], 0) * 219 / 255))) for g in self.grain]
        if strategy == "artistic":
            # Brush-stroke texture: noise smeared diagonally, fixed on the canvas like paint on linen.
            n = rng.random((h // 2 + 1, w // 2 + 1)).astype(np.float32)
            img = Image.fromarray((n * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
            a = np.asarray(img, np.float32) / 255
            for k in range(1, 5):
                a = a + np.roll(np.roll(a, k, axis=0), k, axis=1)
            a = (a - a.mean()) / (a.std() + 1e-6)
            self.strokes = (a[..., None] * 0.05).astype(np.float32)

    def apply(self, canvas: np.ndarray, frame: int) -> np.ndarray:
        s = self.strategy
        if s == "cinematic":
            luma = (canvas @ _LUMA)[..., None]
            split = np.asarray((1.0, 0.55, -0.7), np.float32)  # orange - teal axis
            canvas += (luma - 0.45) * split * 0.22
            canvas -= 0.5
            canvas *= 1.12
            canvas += 0.5
        elif s == "animated":
            luma = canvas @ _LUMA
            canvas = np.floor(canvas * 5.0 + 0.5) / 5.0  # posterise to flat bands
            edge = np.abs(np.diff(luma, axis=0, prepend=luma[:1])) + np.abs(np.diff(luma, axis=1, prepend=luma[:, :1]))
            canvas *= (1 - np.clip((edge - 0.05) * 12, 0, 0.85))[..., None]
        elif s == "artistic":
            luma = (canvas @ _LUMA)[..., None]
            canvas += (canvas - luma) * 0.7  # +70% saturation
            canvas += self.strokes
        elif s == "realistic":
            canvas += self.grain[frame % len(self.grain)]
        return canvas

    def grain_luma(self, luma: Image.Image, frame: int) -> Image.Image:
        """`apply` for realistic on the canvas's Y plane (the only planar strategy): its grain."""
        more, less = self.luma_grain[frame % len(self.luma_grain)]
        return ImageChops.subtract(ImageChops.add(luma, more), less)

    def bars(self, planes: list[np.ndarray]) -> None:
        """Letterbox to 2.39:1 for cinematic, in place on an output frame's Y, U, V planes."""
        if self.strategy == "cinematic":
            h, w = planes[0].shape
            bar = max(0, round((h - w / 2.39) / 2))
            if bar:
                for plane, black, k in zip(planes, (16, 128, 128), (1, 2, 2)):
                    rows = -(-bar // k)  # a chroma row half in the bar is in it
                    plane[:rows] = black
                    plane[plane.shape[0] - rows:] = black
