"""The simulated mark: a small "SIMULATED" label burned into the bottom-right corner of every frame.

A vendor model rendered locally must never pass for the vendor's work once downloaded. The label is drawn
once (RGBA), then blended into each frame in the encoder's YUV 4:2:0, whatever the frame source made; the
stills (thumbnail, last frame) are those frames converted, so they carry it too. Pure arithmetic on fixed
inputs: renders stay reproducible.
"""

from __future__ import annotations

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import view

# BT.601 limited range: what swscale uses for rgb24 -> yuv420p by default (encode.VideoWriter.prepare).
_Y = np.array([0.257, 0.504, 0.098])
_U = np.array([-0.148, -0.291, 0.439])
_V = np.array([0.439, -0.368, -0.071])


class Mark:
    """`text` in a translucent pill, bottom-right, sized to the frame's short side."""

    def __init__(self, text: str, size: tuple[int, int]) -> None:
        w, h = size
        short = min(w, h)
        font_px = max(8, round(short / 32))
        font = ImageFont.load_default(size=font_px)
        left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
        pad_x, pad_y = max(3, font_px // 2), max(2, font_px // 4)
        mw = (right - left + 2 * pad_x + 1) // 2 * 2  # even sizes and offsets: chroma is 2×2
        mh = (bottom - top + 2 * pad_y + 1) // 2 * 2
        mw, mh = min(mw, w // 2 * 2), min(mh, h // 2 * 2)
        self.image = Image.new("RGBA", (mw, mh), (0, 0, 0, 0))
        draw = ImageDraw.Draw(self.image)
        draw.rounded_rectangle((0, 0, mw - 1, mh - 1), radius=pad_y + 1, fill=(0, 0, 0, 96))
        draw.text((pad_x - left, pad_y - top), text, font=font, fill=(255, 255, 255, 210))
        margin = max(2, round(short * 0.025)) // 2 * 2
        self.x, self.y = max(0, w - mw - margin) // 2 * 2, max(0, h - mh - margin) // 2 * 2
        rgba = np.asarray(self.image, dtype=np.float32)
        rgb, self.alpha = rgba[..., :3], rgba[..., 3] / 255.0
        self.luma = rgb @ _Y + 16
        half = rgb.reshape(mh // 2, 2, mw // 2, 2, 3).mean(axis=(1, 3))
        self.chroma_alpha = self.alpha.reshape(mh // 2, 2, mw // 2, 2).mean(axis=(1, 3))
        self.cb, self.cr = half @ _U + 128, half @ _V + 128

    def on_frame(self, frame: av.VideoFrame) -> None:
        """Blend into a yuv420p frame, in place (sources make a new frame each call).

        Only the mark's box is converted to float and written back."""
        planes = view.planes_of(frame)
        y, x = self.y, self.x
        cy, cx = y // 2, x // 2
        for plane, top, left, value, alpha in ((planes[0], y, x, self.luma, self.alpha),
                                               (planes[1], cy, cx, self.cb, self.chroma_alpha),
                                               (planes[2], cy, cx, self.cr, self.chroma_alpha)):
            height, width = value.shape
            region = plane[top:top + height, left:left + width].astype(np.float32)
            region += (value - region) * alpha
            plane[top:top + height, left:left + width] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
