"""Image-to-video: the first frame is the picture, then the camera moves through it."""

from __future__ import annotations

import av
import numpy as np
from PIL import Image

from . import yuv
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
            pad = (2 * round(w * _ZOOM_OUT_PAD / 2), 2 * round(h * _ZOOM_OUT_PAD / 2))  # even: 4:2:0
            self.source = pad_reflect(picture, pad)
        else:
            self.source = picture
        # The base view (scale 1) is centred in the canvas: exactly the picture in either case.
        self.canvas = (float(self.source.width), float(self.source.height))
        self.picture = picture
        self.y0 = int(h * _FOREGROUND_FROM) // 2 * 2  # even rows, so chroma rows line up too
        ramp = np.clip((np.arange(h - self.y0) / max(1, h - self.y0)) * 2.2, 0, 1)
        ramp = ramp * ramp * (3 - 2 * ramp)
        # Below y1 the foreground covers the background entirely: the background stops there.
        self.y1 = self.y0 + int(np.argmax(ramp >= 1)) if (ramp >= 1).any() else h
        self.y1 += self.y1 % 2
        ramp = ramp[:self.y1 - self.y0]
        self.mask = Image.fromarray(np.repeat((255 - (ramp * 255).astype(np.uint8))[:, None], w, axis=1), "L")
        self.masks = (self.mask, self.mask.resize((w // 2, self.mask.height // 2), Image.Resampling.BILINEAR))
        self.planes = yuv.planes(self.source)  # the encoder's Y, U, V of the (padded) picture
        self.picture_planes = self.planes if self.source is picture else yuv.planes(picture)

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

    def video_frame(self, index: int) -> av.VideoFrame:
        """Frame `index` straight as the encoder's YUV 4:2:0: the same resampling as `frame`, run
        on the picture's Y, U and V planes (converted once): 1.5 bytes a pixel instead of 4, and
        no per-frame RGB conversion."""
        if index == 0:
            return yuv.video_frame(self.picture_planes)
        view = self.move.view(index / max(1, self.frames - 1), anchored=True)
        w, h = self.size
        if self.move.kind == "zoom_out":
            return yuv.video_frame([self._render(view, (0, h), p, 1 + (i > 0)) for i, p in enumerate(self.planes)])
        fore_view = View(1 + (view.scale - 1) * (1 + _PARALLAX), view.ox, view.oy)
        out = []
        for i, plane in enumerate(self.planes):
            s = 1 + (i > 0)  # chroma planes are half size
            y0, y1 = self.y0 // s, self.y1 // s
            image = self._render(fore_view, (self.y0, h), plane, s)
            back = self._render(view, (0, self.y1), plane, s)
            image = _stack(back.crop((0, 0, w // s, y0)), image, y0)
            image.paste(back.crop((0, y0, w // s, y1)), (0, y0), self.masks[i > 0])
            out.append(image)
        return yuv.video_frame(out)

    def _render(self, view: View, rows: tuple[int, int], source: Image.Image | None = None,
                s: int = 1) -> Image.Image:
        """Rows `rows` (of the output) of the frame seen through `view`, from `source` (the picture
        by default) at 1/`s` of the output's size."""
        w, h = self.size
        base = (float(w), float(h))
        left, top, right, bottom = crop_box(view, canvas=self.canvas, base=base)
        sy = (bottom - top) / h
        box = (left / s, (top + rows[0] * sy) / s, right / s, (top + rows[1] * sy) / s)
        return (source or self.source).resize((w // s, (rows[1] - rows[0]) // s), Image.Resampling.BILINEAR, box=box)


def _stack(top: Image.Image, bottom: Image.Image, at: int) -> Image.Image:
    """`bottom` pasted below row `at` of a canvas holding `top`: one image of both's width."""
    out = Image.new(bottom.mode, (bottom.width, at + bottom.height))
    out.paste(top, (0, 0))
    out.paste(bottom, (0, at))
    return out
