"""Moving parts of a procedural scene: clouds, stars and particles (water: see water.py).

Each element precomputes what it can in __init__; `draw(canvas, t, dx)` takes the 8-bit RGB working
canvas (a PIL image), draws on it with a masked paste or a few numpy operations, and returns it
(possibly a new image); `draw_planes(planes, t, dx)` does the same on the canvas's Y, U and V (4:2:0)
plane images, in place in the list. `t` is seconds since the clip start; `dx` is the camera's sideways travel
in canvas pixels (for parallax).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from . import yuv
from .noise import fractal2d, smoothstep
from .palette import Theme
from .terrain import mix, to_u8
from .yuv import Sprite


class Clouds:
    """A tileable cloud deck over the sky band, drifting sideways and shaded from above.

    Built once as 8-bit colour and coverage images, tiled twice across so that any drift is one
    crop; each frame is then a single masked paste, in C.
    """

    def __init__(self, theme: Theme, size: tuple[int, int], horizon: int, rng: np.random.Generator) -> None:
        w, _ = size
        self.rows = max(4, int(horizon * 0.95))
        self.width = w * 2
        n = fractal2d((self.rows, self.width), (3, 8), 6, rng, persistence=0.55)
        c = theme.clouds
        y = np.arange(self.rows, dtype=np.float32)[:, None] / self.rows
        # Thinner toward the horizon (distance) and the very top (out of the deck).
        fade = smoothstep(1.0, 0.55, y) * smoothstep(0.0, 0.15, y)
        alpha = smoothstep(1.0 - c - 0.05, 1.0 - c + 0.3, n) * fade * 0.92
        lit = np.clip(0.6 + 2.0 * (n - np.roll(n, 6, axis=0)), 0, 1)[..., None]
        rgb = mix(theme.light.cloud_shadow, theme.light.cloud, lit)
        rgb8, alpha8 = np.tile(to_u8(rgb), (1, 2, 1)), np.tile(to_u8(alpha), (1, 2))
        self.rgb, self.alpha = Image.fromarray(rgb8), Image.fromarray(alpha8)
        self.sprite = Sprite(rgb8, alpha8)
        self.speed = w * 0.02 * (1 + rng.random())  # canvas px per second

    def _shift(self, t: float, dx: float) -> int:
        return int(self.speed * t - dx * 0.85) % self.width  # far: travels with the camera

    def draw(self, canvas: Image.Image, t: float, dx: float) -> Image.Image:
        canvas.paste(self.rgb, (-self._shift(t, dx), 0), self.alpha)  # clipped to the canvas: no crop copies
        return canvas

    def draw_planes(self, planes: list[Image.Image], t: float, dx: float, origin: tuple[int, int] = (0, 0)) -> None:
        """On Y, U, V plane images whose top-left is canvas pixel `origin` (even)."""
        self.sprite.paste(planes, -self._shift(t, dx) - origin[0], -origin[1])


class Stars:
    """Twinkling points, drawn on the sky before anything covers them."""

    def __init__(self, size: tuple[int, int], horizon: int, rng: np.random.Generator) -> None:
        w, _ = size
        count = int(w * horizon / 220)
        self.y = rng.integers(0, max(1, int(horizon * 0.9)), count)
        self.x = rng.integers(0, w, count)
        self.level = (rng.random(count) ** 3 * 0.8 + 0.2).astype(np.float32)
        self.phase = rng.random(count).astype(np.float32) * 6.283
        self.rate = rng.uniform(1.5, 4.0, count).astype(np.float32)

    def _points(self, t: float, dx: float, width: int) -> tuple[np.ndarray, np.ndarray]:
        x = (self.x + int(dx * 0.9)) % width
        return x, (self.level * (0.65 + 0.35 * np.sin(self.phase + self.rate * t)) * 255).astype(np.uint8)

    def draw(self, canvas: Image.Image, t: float, dx: float) -> Image.Image:
        a = np.array(canvas)
        x, glow = self._points(t, dx, a.shape[1])
        a[self.y, x] = np.maximum(a[self.y, x], glow[:, None])
        return Image.fromarray(a)

    def draw_planes(self, planes: list[Image.Image], t: float, dx: float) -> None:
        """On the luma only: a star is one grey pixel, a quarter of a chroma sample."""
        a = np.array(planes[0])
        x, glow = self._points(t, dx, a.shape[1])
        a[self.y, x] = np.maximum(a[self.y, x], (16 + glow * (219 / 255)).astype(np.uint8))
        planes[0] = Image.fromarray(a)


_PARTICLES = {  # count per 100k canvas px, colour, size px, fall speed and drift (canvas heights / s)
    "snow": (180, (0.95, 0.96, 1.0), 2, 0.12, 0.03),
    "rain": (260, (0.75, 0.80, 0.90), 1, 1.6, 0.10),
    "fireflies": (40, (1.0, 0.95, 0.45), 2, -0.01, 0.02),
    "dust": (70, (1.0, 0.85, 0.60), 1, 0.01, 0.10),
    "traffic": (45, (1.0, 0.85, 0.6), 2, 0.0, 0.25),
}


class Particles:
    """Snow, rain, fireflies, dust or traffic lights: points moving on wrapped straight paths."""

    def __init__(self, kind: str, size: tuple[int, int], rng: np.random.Generator,
                 rows: tuple[int, int] | None = None) -> None:
        w, h = size
        per, colour, self.px, fall, drift = _PARTICLES[kind]
        count = max(8, int(per * w * h / 100_000))
        self.kind, self.w, self.h = kind, w, h
        self.rows = rows or (0, h)
        self.x0 = rng.random(count) * w
        self.y0 = rng.random(count) * (self.rows[1] - self.rows[0]) + self.rows[0]
        depth = rng.uniform(0.4, 1.0, count)  # nearer particles are faster and brighter
        self.vy = fall * h * depth
        self.vx = drift * w * depth * (rng.choice((-1, 1), count) if kind == "traffic" else 1)
        self.alpha = (0.45 + 0.55 * depth).astype(np.float32)[:, None]
        self.phase = rng.random(count) * 6.283
        self.colour = np.asarray(colour, np.float32) * 255
        if kind == "traffic":  # tail lights red one way, headlights white the other
            self.colours = np.where((self.vx > 0)[:, None], (255, 51, 38), (255, 242, 204)).astype(np.float32)
        else:
            self.colours = np.broadcast_to(self.colour, (count, 3))
        self.yuv_colours = yuv.to_planes(self.colours[None].astype(np.uint8)).reshape(3, count).T.astype(np.float32)

    def _points(self, t: float, dx: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        span = self.rows[1] - self.rows[0]
        x = ((self.x0 + self.vx * t + dx + np.sin(self.phase + t) * 3) % self.w).astype(np.int64)
        y = ((self.y0 - self.rows[0] + self.vy * t) % span + self.rows[0]).astype(np.int64)
        a = self.alpha
        if self.kind == "fireflies":
            a = a * (0.5 + 0.5 * np.sin(self.phase * 3 + t * 3.0))[:, None]
        return x, y, a

    def _footprint(self) -> list[tuple[int, int]]:
        if self.kind == "rain":  # rain draws short streaks
            return [(oy, 0) for oy in range(4)]
        return [(oy, ox) for oy in range(self.px) for ox in range(self.px)]

    def draw(self, canvas: Image.Image, t: float, dx: float) -> Image.Image:
        out = np.array(canvas)
        x, y, a = self._points(t, dx)
        for oy, ox in self._footprint():
            yy, xx = np.minimum(y + oy, out.shape[0] - 1), np.minimum(x + ox, out.shape[1] - 1)
            under = out[yy, xx].astype(np.float32)
            out[yy, xx] = (under + a * (self.colours - under) + 0.5).astype(np.uint8)
        return Image.fromarray(out)

    def draw_planes(self, planes: list[Image.Image], t: float, dx: float) -> None:
        """The same points on Y, U and V: each pixel blends a quarter as strongly into its chroma
        sample (it covers a quarter of the 2x2 block)."""
        arrays = [np.array(p) for p in planes]
        x, y, a = self._points(t, dx)
        colours = self.yuv_colours
        for oy, ox in self._footprint():
            for i, (plane, k) in enumerate(zip(arrays, (1, 2, 2))):
                yy = np.minimum(y + oy, planes[0].height - 1) // k
                xx = np.minimum(x + ox, planes[0].width - 1) // k
                yy, xx = np.minimum(yy, plane.shape[0] - 1), np.minimum(xx, plane.shape[1] - 1)
                under = plane[yy, xx].astype(np.float32)
                weight = a[:, 0] if k == 1 else a[:, 0] / 4
                plane[yy, xx] = (under + weight * (colours[:, i] - under) + 0.5).astype(np.uint8)
        planes[:] = [Image.fromarray(p) for p in arrays]


class Boat:
    """A small paper boat (or any boat the prompt names) afloat on the water: a folded hull and a
    peaked middle, lit on one side, with a faint reflection under it, drifting slowly and bobbing.

    Drawn once at 4x in 4x4 sub-pixel positions and scaled down, so its slow motion is smooth:
    each frame pastes one small sprite.
    """

    _SUB = 4

    def __init__(self, theme: Theme, size: tuple[int, int], horizon: int, rng: np.random.Generator) -> None:
        w, h = size
        self.bw = bw = max(8, round(w * 0.09))
        bh = round(bw * 0.75)
        self.y = horizon + (h - horizon) * 0.42 - bh  # the sprite's waterline, a little nearer than mid-water
        self.x = w * rng.uniform(0.3, 0.45)
        self.speed = w * 0.006 * rng.uniform(0.7, 1.3)  # canvas px per second, to the right
        lit = mix(theme.light.cloud, (1.0, 1.0, 1.0), 0.35) * 0.95
        shade = mix(lit * 0.62, theme.light.sky_top, 0.25)
        self.sprites = [[self._sprite(bw, bh, lit, shade, ox, oy) for ox in range(self._SUB)]
                        for oy in range(self._SUB)]

    def _sprite(self, bw: int, bh: int, lit: np.ndarray, shade: np.ndarray, ox: int, oy: int) -> tuple:
        k = self._SUB
        W, H = (bw + 2) * k, (bh * 2 + 2) * k  # room below for the reflection
        img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        x0, y0, s = ox, oy, bw * k
        water = y0 + bh * k  # the waterline
        hull_top = water - s * 0.22
        peak = (x0 + s * 0.5, water - s * 0.55)
        # Reflection first (faint, squashed), then the boat over it.
        d.polygon([(x0 + s * 0.12, water), (x0 + s * 0.88, water), (x0 + s * 0.74, water + s * 0.12),
                   (x0 + s * 0.26, water + s * 0.12)], fill=_rgba(shade * 0.8, 70))
        d.polygon([(x0 + s * 0.3, water + s * 0.1), (peak[0], water + s * 0.4),
                   (x0 + s * 0.7, water + s * 0.1)], fill=_rgba(lit * 0.8, 45))
        # The peak: a lit half and a shaded one.
        d.polygon([(x0 + s * 0.24, hull_top), peak, (x0 + s * 0.5, hull_top)], fill=_rgba(lit))
        d.polygon([(x0 + s * 0.5, hull_top), peak, (x0 + s * 0.76, hull_top)], fill=_rgba(shade))
        d.polygon([(x0, hull_top - s * 0.06), (x0 + s, hull_top - s * 0.06), (x0 + s * 0.8, water),
                   (x0 + s * 0.2, water)], fill=_rgba(lit * 0.92))  # the hull, its rim a little raised
        d.polygon([(x0 + s * 0.5, hull_top + s * 0.01), (x0 + s * 0.8, water), (x0 + s * 0.2, water)],
                  fill=_rgba(shade * 1.1))  # the fold down its side
        small = img.resize((W // k, H // k), Image.Resampling.BOX)
        rgb, alpha = small.convert("RGB"), small.getchannel("A")
        return rgb, alpha, Sprite(np.asarray(rgb), np.asarray(alpha))

    def _at(self, t: float, dx: float) -> tuple[int, int, tuple]:
        # On the water part-way out: it travels with the camera about half as much as the far shore.
        x = self.x + self.speed * t + dx * 0.45
        y = self.y + np.sin(t * 2.1) * self.bw * 0.025
        xi, yi = int(np.floor(x)), int(np.floor(y))
        return xi, yi, self.sprites[int((y - yi) * self._SUB)][int((x - xi) * self._SUB)]

    def draw(self, canvas: Image.Image, t: float, dx: float) -> Image.Image:
        xi, yi, (rgb, alpha, _) = self._at(t, dx)
        canvas.paste(rgb, (xi, yi), alpha)
        return canvas

    def draw_planes(self, planes: list[Image.Image], t: float, dx: float) -> None:
        xi, yi, (_, _, sprite) = self._at(t, dx)
        sprite.paste(planes, xi, yi)


def _rgba(colour: np.ndarray, alpha: int = 255) -> tuple[int, int, int, int]:
    r, g, b = (int(v * 255 + 0.5) for v in np.clip(colour, 0, 1))
    return r, g, b, alpha
