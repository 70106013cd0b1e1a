"""The prompt as a small caption over the first second of a text-to-video clip."""

from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .yuv import Sprite

CAPTION_SECONDS = 1.0
_FADE = 0.3  # seconds of fade-out at the end of the caption


class Caption:
    """A pre-rendered RGBA caption, bottom-left, pasted onto frames with a fading opacity."""

    def __init__(self, text: str, size: tuple[int, int]) -> None:
        w, h = size
        font_px = max(10, round(min(w, h) / 26))
        font = ImageFont.load_default(size=font_px)  # DejaVu Sans when FreeType is available
        max_chars = max(10, int(w * 0.7 / (font_px * 0.55)))
        lines = textwrap.wrap(" ".join(text.split()), max_chars)[:2] or [""]
        if len(textwrap.wrap(" ".join(text.split()), max_chars)) > 2:
            lines[-1] = lines[-1][: max_chars - 1].rstrip() + "…"
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        boxes = [probe.textbbox((0, 0), line, font=font) for line in lines]
        line_h = max(b[3] for b in boxes) + font_px // 4
        pad = font_px // 2
        cw = max(b[2] for b in boxes) + 2 * pad
        ch = line_h * len(lines) + pad
        self.image = Image.new("RGBA", (cw, ch), (0, 0, 0, 0))
        draw = ImageDraw.Draw(self.image)
        draw.rounded_rectangle((0, 0, cw - 1, ch - 1), radius=pad, fill=(0, 0, 0, 110))
        for i, line in enumerate(lines):
            draw.text((pad, pad // 2 + i * line_h), line, font=font, fill=(255, 255, 255, 235))
        margin = round(min(w, h) * 0.05)
        self.position = (margin, max(0, h - ch - margin - round(h * 0.06)))
        self.alpha = self.image.getchannel("A")
        self.rgb = self.image.convert("RGB")
        self.sprite = Sprite(np.asarray(self.rgb), np.asarray(self.alpha))

    def opacity(self, t: float) -> float:
        """0 from CAPTION_SECONDS on, fading out over the last _FADE seconds before it."""
        return max(0.0, min(1.0, (CAPTION_SECONDS - t) / _FADE))

    def draw(self, planes: list[np.ndarray], t: float) -> None:
        """Blend into an output frame's Y, U, V planes (in place) at time `t` seconds; nothing
        from CAPTION_SECONDS on. Only the caption's rectangle is touched."""
        opacity = self.opacity(t)
        if opacity > 0:
            self.sprite.blend(planes, *self.position, opacity)
