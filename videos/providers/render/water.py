"""Sea or lake below the horizon: mirrored sky, wave crests in perspective, a sun glitter path.

Everything per-pixel that does not move is baked once into 8-bit images; a frame is one lookup of
the wave heights (a flat `np.take` into a pre-interpolated texture) and a handful of 8-bit PIL
operations (composite, LUTs, multiply, add), all in C, at the working canvas's size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops

from .noise import fractal2d, smoothstep
from .palette import Theme
from .terrain import mix, to_u8

_TEX_ROWS = 256  # wave texture rows (it tiles)
_SUB = 8  # texture rows are interpolated this finely: near rows magnify the texture up to ~6x


def _lut(edge0: float, edge1: float, scale: float = 1.0) -> list[int]:
    """A 256-entry table of 255·scale·smoothstep(edge0, edge1, h/255)."""
    return to_u8(smoothstep(edge0, edge1, np.arange(256, dtype=np.float32) / 255) * scale).tolist()


class Water:
    """Colour per pixel: base·(0.75 + 0.5·h), lightened toward the sun's colour by foam·s(h) +
    glint·s'(h), where h is the wave height 0..1 under it and s, s' pick out the crests."""

    def __init__(self, theme: Theme, sky: np.ndarray, horizon: int, sun_x: float, rng: np.random.Generator,
                 sky_margin: int = 0) -> None:
        h, w = sky.shape[:2]
        self.top, self.width = horizon, w
        rows = np.arange(horizon, h, dtype=np.float32)
        d = (rows - horizon + 1) / (h - horizon)  # 0 at the horizon .. 1 at the bottom edge
        noise = fractal2d((_TEX_ROWS, w), (8, 6), 4, rng)
        wy = np.arange(_TEX_ROWS, dtype=np.float32)[:, None]
        # Crests: a sine in depth bent by noise, then sharpened: peaks narrow, troughs wide.
        crest = 0.5 + 0.5 * np.sin(wy * (2 * np.pi * 16 / _TEX_ROWS) + noise * 7.0)
        tex = crest ** 3 * 0.7 + noise * 0.3
        # _SUB rows per texture row, linearly interpolated (wrapping): one lookup is then smooth.
        f = (np.arange(_SUB, dtype=np.float32) / _SUB)[None, :, None]
        tall = tex[:, None, :] * (1 - f) + np.roll(tex, -1, axis=0)[:, None, :] * f
        self.tex = to_u8(tall.reshape(_TEX_ROWS * _SUB, w)).ravel()
        self.depth = 40.0 / (d + 0.04) * _SUB  # texture sub-row per screen row: perspective
        cx = w / 2
        self.cols = ((np.arange(w)[None, :] - cx) * (0.25 + 0.75 * d[:, None]) + cx).astype(np.int32)
        # Texture columns a row slides per canvas px of camera travel: the far water travels with
        # the camera (content moves +dx on the canvas, in texture px at that row's scale), near is fixed.
        self.follow = -(1 - d) * (0.25 + 0.75 * d)
        self._cols_at: tuple[int, np.ndarray] | None = None
        mirror = np.clip(horizon - (rows - horizon) * 0.8, 0, horizon - 1).astype(int)
        deep = np.asarray(theme.light.sky_top, np.float32) * 0.5 + np.asarray((0.0, 0.08, 0.14), np.float32)
        fresnel = smoothstep(0.0, 0.9, d)[:, None, None] * 0.75
        base = mix(sky[mirror, :, :] * 0.85, deep, fresnel)
        # Calm water (a lake, "calm", "still"): gentler swell, little foam, a slower drift.
        swell, foam, speed = (0.12, 0.06, 8.0) if theme.calm else (0.25, 0.35, 14.0)
        self.dark, self.bright = Image.fromarray(to_u8(base * (1 - swell))), Image.fromarray(to_u8(base * (1 + swell)))
        spread = w * (0.02 + 0.10 * d)[:, None]
        path = np.exp(-(((np.arange(w)[None, :] - sun_x) / spread) ** 2)) * (1 - 0.5 * d[:, None])
        self.glint = Image.fromarray(to_u8(path * theme.light.glow * 1.6)) if theme.light.glow > 0 else None
        # The sun's path stays under the sun, which travels with the camera as the sky does (Scene).
        self.sky_margin, self._glint_at = sky_margin, (0, self.glint)
        self.foam = Image.fromarray(to_u8(np.broadcast_to((0.6 + 0.4 * d[:, None]) * foam, (d.size, w))))
        # Foam and glitter both add light to the crests, the sun's colour a little whitened: per
        # channel, a table from the summed 8-bit shine to the amount added.
        light = mix(theme.light.sun, (1.0, 1.0, 1.0), 0.3)
        self.light_luts = [[round(v * c) for v in range(256)] for c in light.tolist()]
        self.foam_lut, self.glint_lut = _lut(0.72, 0.95), _lut(0.5, 0.9)
        self.speed = speed * (1 + 0.3 * rng.random()) * _SUB  # texture sub-rows per second

    def heights(self, t: float, dx: float) -> Image.Image:
        """The wave height under each water pixel at time `t`, as an 8-bit L image."""
        shift = int(dx)
        cols = self._cols_at  # one read: frames are made on two threads
        if cols is None or cols[0] != shift:  # the camera's sideways travel
            slide = np.rint(self.follow * shift).astype(np.int32)[:, None]
            cols = self._cols_at = (shift, (self.cols + slide) % self.width)
        rows = (np.rint(self.depth + self.speed * t).astype(np.int64) % (_TEX_ROWS * _SUB)) * self.width
        at = cols[1] + rows.astype(np.int32)[:, None]
        return Image.fromarray(np.take(self.tex, at))

    def draw(self, canvas: Image.Image, t: float, dx: float) -> Image.Image:
        h = self.heights(t, dx)
        water = Image.composite(self.bright, self.dark, h)  # base·(0.75 + 0.5·h)
        shine = ImageChops.multiply(self.foam, h.point(self.foam_lut))  # 8-bit L from here on
        if self.glint is not None:
            follow = int(np.clip(dx * 0.9, -self.sky_margin, self.sky_margin))
            glint = self._glint_at  # one read: frames are made on two threads
            if glint[0] != follow:
                glint = self._glint_at = (follow, ImageChops.offset(self.glint, follow, 0))
            shine = ImageChops.add(shine, ImageChops.multiply(glint[1], h.point(self.glint_lut)))
        light = Image.merge("RGB", [shine.point(lut) for lut in self.light_luts])
        canvas.paste(ImageChops.add(water, light), (0, self.top))
        return canvas
