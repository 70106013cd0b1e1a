"""Text-to-video: a procedural landscape composed from the prompt's words.

The scene is built once on a small working canvas (half the output's rows, 180..360, with 25%
overscan for the camera to travel in): sky, terrain layers, textures, all 8-bit PIL images. Each frame crops
the sky, pastes the moving elements and the layers (slid sideways for parallax) through their
coverage masks, grades, and is scaled to the output size by one PIL resize of the camera's crop
box. Per frame that is a handful of C calls on a canvas a fraction of the output's size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from . import terrain
from .camera import Move, crop_box
from .elements import Boat, Clouds, Particles, Stars
from .grade import Grade
from .palette import Theme
from .terrain import Layer, to_u8
from .water import Water

# Working-canvas size of the output's short side (before overscan): half the output's, within
# these bounds. The scene is soft gradients and noise: one bilinear upscale loses little of it.
WORK_ROWS = (180, 360)
OVERSCAN = 1.25  # canvas / base view: room for pans, tilts and zooms


class Scene:
    """Frames of one procedural clip; `frame(i)` is deterministic for (theme, sizes, move, strategy)."""

    def __init__(self, theme: Theme, size: tuple[int, int], frames: int, frame_rate: int, move: Move,
                 strategy: str | None) -> None:
        self.size, self.frames, self.frame_rate, self.move = size, frames, frame_rate, move
        k = min(1.0, min(max(WORK_ROWS[0], min(size) / 2), WORK_ROWS[1]) / min(size))
        self.base = (size[0] * k, size[1] * k)
        cw, ch = round(self.base[0] * OVERSCAN), round(self.base[1] * OVERSCAN)
        self.canvas_size = (cw, ch)
        rng = np.random.default_rng(theme.seed)
        self.margin = m = round(cw * 0.08)
        horizon_at = 0.22 if theme.aerial else {"ocean": 0.5, "city": 0.55}.get(theme.setting, 0.58)
        self.horizon = hy = round(ch * horizon_at)
        sun = (cw * rng.uniform(0.35, 0.65) + m, hy - theme.light.sun_height * hy * 0.9)
        self.sky = Image.fromarray(to_u8(terrain.sky(theme, (cw + 2 * m, ch), hy, sun)))
        self.behind: list = []  # drawn on the sky, before the layers
        self.front: list = []  # drawn over everything
        if theme.light.stars:
            self.behind.append(Stars((cw + 2 * m, ch), hy, rng))
        if theme.clouds > 0.15 and not (theme.setting == "city" and theme.time == "night"):
            self.behind.append(Clouds(theme, (cw, ch), hy, rng))
        self.layers = [_Sprite(layer) for layer in self._layers(theme, (cw, ch), rng)]
        covered = ch  # rows from here down are hidden under an opaque part of a nearer layer
        for sprite in reversed(self.layers):
            covered = sprite.trim(covered)
        self.water = None
        if theme.setting == "ocean":  # reflects the sky's colours; the sun itself only as glitter
            self.water = Water(theme, terrain.sky(theme, (cw, ch), hy, None), hy, sun[0] - m, rng,
                               sky_margin=m)
        if self.water is not None and theme.boat and not theme.aerial:
            self.front.append(Boat(theme, (cw, ch), hy, rng))
        if theme.particles:
            self.front.append(Particles(theme.particles, (cw, ch), rng))
        if theme.setting == "city":
            street = hy + round(ch * 0.11)
            self.front.append(Particles("traffic", (cw, ch), rng, rows=(street, street + max(2, ch // 40))))
        self.grade = Grade(strategy, (cw, ch), rng)

    def _layers(self, theme: Theme, size: tuple[int, int], rng: np.random.Generator) -> list[Layer]:
        hy, m = self.horizon, self.margin
        s = theme.setting
        if s == "ocean":
            # A low, hazy far shore on the horizon unless looking straight down at the water. Only
            # its rows above the waterline: the band below would hide the water.
            if theme.aerial:
                return []
            shore = terrain.ridges(theme, size, hy + 2, m, rng, count=1)[0]
            keep = max(1, hy + 2 - shore.top)
            shore.rgb, shore.alpha = shore.rgb[:keep], shore.alpha[:keep]
            return [shore]
        if s == "forest":
            far = terrain.ridges(theme, size, hy, m, rng, count=2)[:1]
            return far + [terrain.tree_line(theme, size, hy, m, rng, near) for near in (0.0, 0.45, 1.0)]
        if s == "city":
            layers = []
            for near in (0.0, 0.5, 1.0):
                layer, windows = terrain.skyline(theme, size, hy, m, rng, near)
                strength = 0.9 if theme.time in ("night", "sunset") else 0.12
                lit = windows.max(axis=2, keepdims=True) * strength
                layer.rgb += lit * (windows - layer.rgb)
                if theme.neon:
                    _neon_signs(layer, rng, near)
                layers.append(layer)
            return layers
        return terrain.ridges(theme, size, hy, m, rng, count=3)

    def canvas(self, index: int) -> tuple[Image.Image, tuple[float, float, float, float]]:
        """The working-size 8-bit frame (graded) and the camera's crop box in it."""
        t = index / self.frame_rate
        u = index / max(1, self.frames - 1)
        cw, ch = self.canvas_size
        m = self.margin
        box = crop_box(self.move.view(u, anchored=False), canvas=(cw, ch), base=self.base)
        # Camera travel. What is far travels with the camera, by dx·(1 - depth) on the canvas, so on
        # screen near layers slide more than far ones and the sky hardly moves.
        dx = (box[0] + box[2]) / 2 - cw / 2
        sky_shift = int(np.clip(dx * 0.9, -m, m))
        frame = self.sky.crop((m - sky_shift, 0, m - sky_shift + cw, ch))
        for element in self.behind:
            frame = element.draw(frame, t, dx)
        if self.water is not None:
            frame = self.water.draw(frame, t, dx)
        for layer in self.layers:
            layer.draw(frame, -m + int(np.clip(dx * (1 - layer.depth), -m, m)))
        for element in self.front:
            frame = element.draw(frame, t, dx)
        if self.grade.strategy is not None:
            graded = self.grade.apply(np.asarray(frame, np.float32) * (1 / 255), index)
            frame = Image.fromarray(to_u8(graded))
        return frame, box

    def frame(self, index: int) -> Image.Image:
        """Output-size RGB frame `index` (0-based)."""
        small, box = self.canvas(index)
        image = small.resize(self.size, Image.Resampling.BILINEAR, box=box)
        return self.grade.bars(image)

    def draft(self, index: int) -> Image.Image | None:
        """Frame `index` at the working canvas's resolution, for the encoder to scale up (see
        VideoWriter.write); None when it must be drawn at the output size (letterbox bars).

        The camera's crop box is resampled here (sub-pixel motion stays smooth); the 2-3x upscale
        to the output then happens in swscale, fused with the YUV conversion the encoder needs anyway.
        """
        draft_size = (round(self.base[0]), round(self.base[1]))
        if self.grade.strategy == "cinematic" or draft_size == self.size:
            return None
        small, box = self.canvas(index)
        return small.resize(draft_size, Image.Resampling.BILINEAR, box=box)


class _Sprite:
    """A terrain layer as 8-bit images: its ragged top edge pasted through its coverage mask, the
    opaque rows below it with a plain copy, and nothing where nearer layers cover it anyway."""

    def __init__(self, layer: Layer) -> None:
        self.top, self.depth = layer.top, layer.depth
        self.rgb, self.alpha = to_u8(layer.rgb), to_u8(layer.alpha[..., 0])
        see_through = np.nonzero((self.alpha < 255).any(axis=1))[0]
        self.solid = int(see_through.max()) + 1 if see_through.size else 0  # first all-opaque row

    def trim(self, covered: int) -> int:
        """Keep the rows above canvas row `covered`; returns the row this layer covers from."""
        end = max(self.solid, min(covered - self.top, len(self.rgb)))
        self.edge = (Image.fromarray(self.rgb[:self.solid]), Image.fromarray(self.alpha[:self.solid]))
        self.body = Image.fromarray(self.rgb[self.solid:end]) if end > self.solid else None
        return min(covered, self.top + self.solid)

    def draw(self, frame: Image.Image, x: int) -> None:
        """Paste at column offset `x` (<= 0: the layer is wider than the frame)."""
        if self.solid:
            frame.paste(self.edge[0], (x, self.top), self.edge[1])
        if self.body is not None:
            frame.paste(self.body, (x, self.top + self.solid))


def _neon_signs(layer: Layer, rng: np.random.Generator, near: float) -> None:
    """A few glowing coloured signs on the building faces, with a soft bloom around them."""
    rows, width = layer.alpha.shape[:2]
    glow = np.zeros((rows, width, 3), np.float32)
    colours = [(1.0, 0.15, 0.75), (0.1, 0.9, 1.0), (0.6, 0.3, 1.0), (1.0, 0.4, 0.2)]
    for _ in range(int(width / 80 * (0.5 + near))):
        h = int(rng.uniform(0.01, 0.025) * rows * 3)
        w = int(rng.uniform(0.3, 1.0) * h)
        y, x = int(rng.uniform(0.15, 0.7) * rows), int(rng.integers(0, max(1, width - w)))
        if layer.alpha[y, x, 0] > 0.5:
            glow[y:y + h, x:x + w] = colours[int(rng.integers(0, len(colours)))]
    bloom = Image.fromarray((glow * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(4))
    layer.rgb += glow * 0.9 + np.asarray(bloom, np.float32) / 255 * 0.8
    layer.alpha = np.maximum(layer.alpha, (np.asarray(bloom, np.float32).max(axis=2, keepdims=True) / 255) * 0.6)
