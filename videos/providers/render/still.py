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
    stronger move than the rest and blended in through a vertical ramp: a 2.5D depth cue at the
    cost of one extra partial resize. Frame 0 is the picture itself (both boxes coincide).
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
        self.mask = Image.fromarray(np.repeat((ramp * 255).astype(np.uint8)[:, None], w, axis=1), "L")

    def frame(self, index: int) -> Image.Image:
        if index == 0:
            return self.picture
        u = index / max(1, self.frames - 1)
        view = self.move.view(u, anchored=True)
        back = self._render(view, (0, self.size[1]))
        fore_view = View(1 + (view.scale - 1) * (1 + _PARALLAX), view.ox, view.oy)
        if self.move.kind == "zoom_out":
            return back  # the pad has no room for a wider foreground view
        fore = self._render(fore_view, (self.y0, self.size[1]))
        back.paste(fore, (0, self.y0), self.mask)
        return back

    def _render(self, view: View, rows: tuple[int, int]) -> Image.Image:
        """Rows `rows` (of the output) of the frame seen through `view`."""
        w, h = self.size
        base = (float(w), float(h))
        left, top, right, bottom = crop_box(view, canvas=self.canvas, base=base)
        sy = (bottom - top) / h
        box = (left, top + rows[0] * sy, right, top + rows[1] * sy)
        return self.source.resize((w, rows[1] - rows[0]), Image.Resampling.BILINEAR, box=box)
