"""The prompt as a small caption over the first second of a text-to-video clip."""

from __future__ import annotations

import textwrap

from PIL import Image, ImageDraw, ImageFont

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

    def draw(self, frame: Image.Image, t: float) -> None:
        """Paste onto `frame` (in place) at time `t` seconds; nothing after CAPTION_SECONDS."""
        if t >= CAPTION_SECONDS:
            return
        opacity = min(1.0, (CAPTION_SECONDS - t) / _FADE)
        mask = self.alpha if opacity >= 1 else self.alpha.point(lambda a: int(a * opacity))
        frame.paste(self.rgb, self.position, mask)
