"""Image-to-video: the first frame is the picture, then the camera moves through it."""

from __future__ import annotations

import threading

import av
import numpy as np
from PIL import Image

from . import view, yuv
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
        # The ramp is the same along each row: one background weight per row, in 256ths, for the
        # blend in numpy (uint16 products, no image copies): out = (b·a + f·(256 - a)) >> 8.
        self.weights = tuple(np.asarray(m, np.uint16)[:, :1] * 256 // 255 for m in self.masks)
        self._scratch = threading.local()
        # The encoder's Y, U, V of the (padded) picture, as arrays.
        self.planes = [np.asarray(p) for p in yuv.planes(self.source)]
        self.picture_planes = self.planes if self.source is picture else [np.asarray(p) for p in yuv.planes(picture)]
        # The camera path is known: every frame's cuts (view.py), background and foreground, now.
        moves = [move.view(i / max(1, frames - 1), anchored=True) for i in range(frames)]
        source = (self.source.width, self.source.height)
        if move.kind == "zoom_out":  # the pad has no room for a wider foreground view
            self.cuts = [(cut,) for cut in view.cuts([self._box(m) for m in moves], self.size, source)]
        else:
            fore = [View(1 + (m.scale - 1) * (1 + _PARALLAX), m.ox, m.oy) for m in moves]
            self.cuts = list(zip(view.cuts([self._box(m) for m in moves], self.size, source, (0, self.y1)),
                                 view.cuts([self._box(m) for m in fore], self.size, source, (self.y0, h)),
                                 strict=True))

    def frame(self, index: int) -> Image.Image:
        """Frame `index` as RGB: the encoder's frame converted (stills match the video exactly)."""
        return self.picture if index == 0 else view.to_image(self.video_frame(index))

    def video_frame(self, index: int) -> av.VideoFrame:
        """Frame `index` as the encoder's YUV 4:2:0, the camera's boxes resampled from the picture's
        Y, U and V planes (converted once) by swscale (view.py): background and foreground each
        once, only over their own rows, blended through the ramp between them."""
        if index == 0:
            return view.frame_of(self.picture_planes, view.frames)
        w, h = self.size
        out = view.frames.take(self.size)
        planes = view.planes_of(out)
        if len(self.cuts[index]) == 1:
            for dst, src in zip(planes, view.look(self.planes, self.cuts[index][0]), strict=True):
                dst[...] = src
            return out
        back, fore = (view.look(self.planes, cut) for cut in self.cuts[index])
        for i, (dst, b, f) in enumerate(zip(planes, back, fore, strict=True)):
            s = 1 + (i > 0)  # chroma planes are half size
            y0, y1 = self.y0 // s, self.y1 // s
            dst[:y0] = b[:y0]
            dst[y1:] = f[y1 - y0:]
            self._blend(dst[y0:y1], b[y0:], f[:y1 - y0], self.weights[i > 0])
        return out

    def _blend(self, dst: np.ndarray, b: np.ndarray, f: np.ndarray, a: np.ndarray) -> None:
        """dst = b·a + f·(1 - a), `a` a column of per-row weights in 256ths, through this thread's
        uint16 scratch arrays (frames are made on two threads)."""
        key = dst.shape
        scratch = getattr(self._scratch, "arrays", {})
        if key not in scratch:
            scratch[key] = (np.empty(key, np.uint16), np.empty(key, np.uint16))
            self._scratch.arrays = scratch
        x, y = scratch[key]
        np.multiply(b, a, out=x)
        np.multiply(f, 256 - a, out=y)
        x += y
        np.right_shift(x, 8, out=x)
        dst[...] = x

    def _box(self, move: View) -> tuple[float, float, float, float]:
        """The part of the (padded) picture the camera sees through `move`."""
        w, h = self.size
        return crop_box(move, canvas=self.canvas, base=(float(w), float(h)))
