"""The `strategy` looks, applied to the small working canvas before upscaling (cheap)."""

from __future__ import annotations

import numpy as np
from PIL import Image

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

    def bars(self, image: Image.Image) -> Image.Image:
        """Letterbox to 2.39:1 for cinematic (in place on the output-size image)."""
        if self.strategy == "cinematic":
            w, h = image.size
            bar = max(0, round((h - w / 2.39) / 2))
            if bar:
                image.paste((0, 0, 0), (0, 0, w, bar))
                image.paste((0, 0, 0), (0, h - bar, w, h))
        return image
