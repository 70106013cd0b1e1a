"""Image-to-video: the first frame is the picture, then the camera moves through it."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .camera import Move, View, crop_box
from .images import pad_reflect

_ZOOM_OUT_PAD = 0.13  # per side; the widest zoom-out view (scale 0.8) needs 12.5%
_FOREGROUND_FROM = 0.45  # rows below this fraction of the height count as foreground
_PARALLAX = 0.35  # the foreground moves this much more than the background


class StillMotion:
    """Frames of one picture under a camera move, with a soft ground-plane parallax.

    The lower part of the frame (nearer the camera in most photos) is sampled with a slightly
    stronger move than the rest and blended in through a vertical ramp: a 2.5D depth cue. Each
    row is resampled once, or twice within the ramp. Frame 0 is the picture itself (both boxes
    coincide).
    """

    def __init__(self, picture: Image.Image, move: Move, frames: int) -> None:
        self.size = picture.size
        self.move = move
        self.frames = frames
        w, h = picture.size
        if move.kind == "zoom_out":
            pad = (round(w * _ZOOM_OUT_PAD), round(h * _ZOOM_OUT_PAD))
            self.source = pad_reflect(picture, pad)
        else:
            self.source = picture
        # The base view (scale 1) is centred in the canvas: exactly the picture in either case.
        self.canvas = (float(self.source.width), float(self.source.height))
        self.picture = picture
        self.y0 = int(h * _FOREGROUND_FROM)
        ramp = np.clip((np.arange(h - self.y0) / max(1, h - self.y0)) * 2.2, 0, 1)
        ramp = ramp * ramp * (3 - 2 * ramp)
        # Below y1 the foreground covers the background entirely: the background stops there.
        self.y1 = self.y0 + int(np.argmax(ramp >= 1)) if (ramp >= 1).any() else h
        ramp = ramp[:self.y1 - self.y0]
        self.mask = Image.fromarray(np.repeat((255 - (ramp * 255).astype(np.uint8))[:, None], w, axis=1), "L")

    def frame(self, index: int) -> Image.Image:
        if index == 0:
            return self.picture
        u = index / max(1, self.frames - 1)
        view = self.move.view(u, anchored=True)
        if self.move.kind == "zoom_out":
            return self._render(view, (0, self.size[1]))  # the pad has no room for a wider foreground view
        fore_view = View(1 + (view.scale - 1) * (1 + _PARALLAX), view.ox, view.oy)
        y0, y1 = self.y0, self.y1
        out = Image.new("RGB", self.size)
        out.paste(self._render(fore_view, (y0, self.size[1])), (0, y0))
        back = self._render(view, (0, y1))
        out.paste(back.crop((0, 0, self.size[0], y0)), (0, 0))
        out.paste(back.crop((0, y0, self.size[0], y1)), (0, y0), self.mask)  # the fade into the foreground
        return out

    def _render(self, view: View, rows: tuple[int, int]) -> Image.Image:
        """Rows `rows` (of the output) of the frame seen through `view`."""
        w, h = self.size
        base = (float(w), float(h))
        left, top, right, bottom = crop_box(view, canvas=self.canvas, base=base)
        sy = (bottom - top) / h
        box = (left, top + rows[0] * sy, right, top + rows[1] * sy)
        return self.source.resize((w, rows[1] - rows[0]), Image.Resampling.BILINEAR, box=box)
