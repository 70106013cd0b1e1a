"""Text-to-video: a procedural landscape composed from the prompt's words.

The scene is built once on a small working canvas (half the output's rows, 180..360, with 25%
overscan for the camera to travel in): sky, terrain layers, textures, all 8-bit images, and the same
as 4:2:0 sprites (yuv.Sprite). Each frame pastes the sky, the moving elements and the layers (slid
sideways for parallax; merged into one while they hold still) through their coverage masks straight
into Y, U and V planes, and swscale cuts the camera's box out of them at the output size (view.py).
Per frame that is a handful of C calls on a canvas a fraction of the output's size, and no colour
conversion. Water and the colour grades (except realistic's grain) are worked out on an RGB canvas
instead, converted in the same swscale pass.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter

import av
import numpy as np
from PIL import Image, ImageFilter

from . import terrain, view
from .camera import Move, crop_box
from .elements import Boat, Clouds, Particles, Stars
from .grade import Grade
from .palette import Theme
from .terrain import Layer, to_u8
from .water import Water
from .yuv import Sprite

# Working-canvas size of the output's short side (before overscan): half the output's, within
# these bounds. The scene is soft gradients and noise: one bilinear upscale loses little of it.
WORK_ROWS = (180, 360)
OVERSCAN = 1.25  # canvas / base view: room for pans, tilts and zooms
_MERGE_AFTER = 12  # frames the layers hold still before they are merged into one (see Scene.still)


class Scene:
    """Frames of one procedural clip; `frame(i)` is deterministic for (theme, sizes, move, strategy)."""

    def __init__(self, theme: Theme, size: tuple[int, int], frames: int, frame_rate: int, move: Move,
                 strategy: str | None) -> None:
        self.size, self.frames, self.frame_rate, self.move = size, frames, frame_rate, move
        k = min(1.0, min(max(WORK_ROWS[0], min(size) / 2), WORK_ROWS[1]) / min(size))
        self.base = (size[0] * k, size[1] * k)
        cw, ch = 2 * round(self.base[0] * OVERSCAN / 2), 2 * round(self.base[1] * OVERSCAN / 2)  # even: 4:2:0
        self.canvas_size = (cw, ch)
        rng = np.random.default_rng(theme.seed)
        self.margin = m = round(cw * 0.08)
        horizon_at = 0.22 if theme.aerial else {"ocean": 0.5, "city": 0.55}.get(theme.setting, 0.58)
        self.horizon = hy = round(ch * horizon_at)
        sun = (cw * rng.uniform(0.35, 0.65) + m, hy - theme.light.sun_height * hy * 0.9)
        sky = to_u8(terrain.sky(theme, (cw + 2 * m, ch), hy, sun))
        self.sky, self.sky_sprite = Image.fromarray(sky), Sprite(sky)
        self.behind: list = []  # drawn on the sky, before the layers
        self.front: list = []  # drawn over everything
        if theme.light.stars:
            self.behind.append(Stars((cw + 2 * m, ch), hy, rng))
        if theme.clouds > 0.15 and not (theme.setting == "city" and theme.time == "night"):
            self.behind.append(Clouds(theme, (cw, ch), hy, rng))
        self.layers = [_Sprite.of(layer) for layer in self._layers(theme, (cw, ch), rng)]
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
        # The camera path, known before the first frame: its box on the canvas each frame, and how
        # swscale cuts that box out to the output size (view.py).
        self.boxes = [crop_box(move.view(i / max(1, frames - 1), anchored=False), canvas=(cw, ch), base=self.base)
                      for i in range(frames)]
        self.cuts = view.cuts(self.boxes, size, (cw, ch))
        # Composed straight in 4:2:0 planes unless something needs the RGB canvas: the water's
        # light and the strategies' colour grades are worked out on RGB.
        self.planar = self.water is None and strategy in (None, "realistic")
        # The layers' column offsets each frame. Where they hold still for a while (no sideways
        # travel: push-ins, zooms, tilts) they are pasted as one layer, merged when first needed.
        self.offsets = [self._offsets(i) for i in range(frames)]
        self.still = {k for k, n in Counter(self.offsets).items() if n >= _MERGE_AFTER and k}
        self._merged: dict[tuple[int, ...], _Sprite] = {}
        self._merging = threading.Lock()
        # Frames whose layers hold still, with nothing in front of them and only clouds behind,
        # change only above the merged layers' opaque body: below it every such frame is the same
        # body. Those frames are composed over the camera's box only, down to that row; the rest
        # is copied from the body, composed once (see _boxed_planes).
        self.boxed = (self.planar and strategy is None and not self.front
                      and all(isinstance(e, Clouds) for e in self.behind))
        self._bodies: dict[tuple[int, ...], tuple[int, list[np.ndarray]]] = {}

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

    def _travel(self, index: int) -> tuple[float, float, int]:
        """(t seconds, dx, sky shift): how far the camera has travelled sideways from the canvas's
        centre, in canvas pixels. What is far travels with the camera, by dx·(1 - depth) on the
        canvas, so on screen near layers slide more than far ones and the sky hardly moves."""
        box = self.boxes[index]
        dx = (box[0] + box[2]) / 2 - self.canvas_size[0] / 2
        return index / self.frame_rate, dx, int(_clip(dx * 0.9, self.margin))

    def _offsets(self, index: int) -> tuple[int, ...]:
        """Each layer's column offset on the canvas (<= 0: layers are wider than it)."""
        _, dx, _ = self._travel(index)
        m = self.margin
        return tuple(-m + int(_clip(dx * (1 - layer.depth), m)) for layer in self.layers)

    def _merged_layers(self, offsets: tuple[int, ...]) -> _Sprite:
        with self._merging:  # frames are made on two threads: merge once
            merged = self._merged.get(offsets)
            if merged is None:
                merged = self._merged[offsets] = _Sprite.merged(self.layers, offsets, self.canvas_size)
        return merged

    def canvas(self, index: int) -> Image.Image:
        """The working-size 8-bit RGB frame, graded."""
        t, dx, sky_shift = self._travel(index)
        cw, ch = self.canvas_size
        m = self.margin
        frame = self.sky.crop((m - sky_shift, 0, m - sky_shift + cw, ch))
        for element in self.behind:
            frame = element.draw(frame, t, dx)
        if self.water is not None:
            frame = self.water.draw(frame, t, dx)
        for layer, x in zip(self.layers, self.offsets[index], strict=True):
            layer.draw(frame, x)
        for element in self.front:
            frame = element.draw(frame, t, dx)
        if self.grade.strategy is not None:
            graded = self.grade.apply(np.asarray(frame, np.float32) * (1 / 255), index)
            frame = Image.fromarray(to_u8(graded))
        return frame

    def canvas_planes(self, index: int) -> list[np.ndarray]:
        """The working-size frame composed straight in Y, U, V (4:2:0): the same layers and
        elements as `canvas`, pasted as 4:2:0 sprites, 1.5 bytes a pixel instead of 4 and no
        per-frame colour conversion. Only when `planar`."""
        t, dx, sky_shift = self._travel(index)
        cw, ch = self.canvas_size
        m = self.margin
        planes = [Image.new("L", (cw, ch), 16), Image.new("L", (cw // 2, ch // 2), 128),
                  Image.new("L", (cw // 2, ch // 2), 128)]  # black until the sky covers it
        self.sky_sprite.paste(planes, sky_shift - m, 0)
        for element in self.behind:
            element.draw_planes(planes, t, dx)
        offsets = self.offsets[index]
        if offsets in self.still:
            self._merged_layers(offsets).draw_planes(planes, 0)
        else:
            for layer, x in zip(self.layers, offsets, strict=True):
                layer.draw_planes(planes, x)
        for element in self.front:
            element.draw_planes(planes, t, dx)
        if self.grade.strategy is not None:
            planes[0] = self.grade.grain_luma(planes[0], index)
        return [np.asarray(p) for p in planes]

    def _body(self, offsets: tuple[int, ...]) -> tuple[int, list[np.ndarray]]:
        """(row, planes): the canvas row from which the merged layers at `offsets` are opaque
        (even: chroma rows line up), and Y, U, V of the canvas from there down."""
        with self._merging:
            body = self._bodies.get(offsets)
        if body is None:
            merged = self._merged_layers(offsets)
            row = merged.top + merged.solid
            row += row % 2  # even, so chroma rows line up (it is, unless the layer has no edge at all)
            cw, ch = self.canvas_size
            planes = [Image.new("L", (cw, ch - row), 16), Image.new("L", (cw // 2, (ch - row) // 2), 128),
                      Image.new("L", (cw // 2, (ch - row) // 2), 128)]
            merged.draw_planes(planes, 0, origin=row)
            body = (row, [np.asarray(p) for p in planes])
            with self._merging:
                self._bodies[offsets] = body
        return body

    def _boxed_planes(self, index: int) -> av.VideoFrame:
        """The camera's box of the canvas (`cuts[index].crop`) as a yuv420p frame: composed like
        `canvas_planes` above the layers' opaque body, copied from it below. Only when `boxed`
        and the layers hold still in this frame."""
        t, dx, sky_shift = self._travel(index)
        x0, y0, w, h = self.cuts[index].crop  # even
        row, body = self._body(self.offsets[index])
        frame = av.VideoFrame(w, h, "yuv420p")
        out = view.planes_of(frame)
        top = max(0, min(row, y0 + h) - y0)  # the box's rows composed per frame
        if top:
            planes = [Image.new("L", (w, top), 16), Image.new("L", (w // 2, top // 2), 128),
                      Image.new("L", (w // 2, top // 2), 128)]
            self.sky_sprite.paste(planes, sky_shift - self.margin - x0, -y0)
            for element in self.behind:
                element.draw_planes(planes, t, dx, origin=(x0, y0))
            self._merged_layers(self.offsets[index]).draw_planes(planes, -x0, origin=y0)
            for dst, image in zip(out, planes, strict=True):
                dst[:image.height] = np.asarray(image)
        first = max(y0, row)  # the first canvas row taken from the body
        for k, (dst, rows) in enumerate(zip(out, body, strict=True)):
            s = 1 + (k > 0)
            dst[(first - y0) // s:] = rows[(first - row) // s:(y0 + h - row) // s, x0 // s:(x0 + w) // s]
        return frame

    def video_frame(self, index: int) -> av.VideoFrame:
        """Frame `index` (0-based) as the encoder's yuv420p at the output size: the canvas, in
        planes or RGB, cut out through the camera's box and scaled up by swscale in one pass."""
        cut = self.cuts[index]
        if self.boxed and self.offsets[index] in self.still:
            looked = view.cut_out(self._boxed_planes(index), cut)
        else:
            looked = view.look(self.canvas_planes(index) if self.planar else np.asarray(self.canvas(index)), cut)
        out = view.frames.take(self.size)
        planes = view.planes_of(out)
        for dst, src in zip(planes, looked, strict=True):
            dst[...] = src
        self.grade.bars(planes)
        return out

    def frame(self, index: int) -> Image.Image:
        """Output-size RGB frame `index`: the encoder's frame converted."""
        return view.to_image(self.video_frame(index))


def _clip(x: float, limit: float) -> float:
    """`x` within ±`limit` (np.clip costs ~20 µs a call on a float)."""
    return min(max(x, -limit), limit)


class _Sprite:
    """A terrain layer as 8-bit images: its ragged top edge pasted through its coverage mask, the
    opaque rows below it with a plain copy, and nothing where nearer layers cover it anyway."""

    def __init__(self, top: int, rgb: np.ndarray, alpha: np.ndarray, depth: float) -> None:
        self.top, self.depth, self.rgb, self.alpha = top, depth, rgb, alpha
        see_through = np.nonzero((self.alpha < 255).any(axis=1))[0]
        self.solid = int(see_through.max()) + 1 if see_through.size else 0  # first all-opaque row
        if see_through.size and (self.top + self.solid) % 2 and self.solid < len(self.rgb):
            # Edge and body meet on an even canvas row, so no chroma row (two rows) is split between
            # them: two half-covering pastes would let a quarter of what is behind show through.
            self.solid += 1

    @classmethod
    def of(cls, layer: Layer) -> _Sprite:
        return cls(layer.top, to_u8(layer.rgb), to_u8(layer.alpha[..., 0]), layer.depth)

    @classmethod
    def merged(cls, layers: list[_Sprite], offsets: tuple[int, ...], size: tuple[int, int]) -> _Sprite:
        """`layers` at column `offsets`, far to near, as one layer the canvas's width: what they
        cover and show, composited once ("over"), for frames in which none of them moves."""
        cw, ch = size
        top = min(layer.top for layer in layers)
        out = Image.new("RGBA", (cw, ch - top), (0, 0, 0, 0))
        for layer, x in zip(layers, offsets, strict=True):
            image = Image.fromarray(np.dstack([layer.rgb, layer.alpha]), "RGBA")
            out.alpha_composite(image, dest=(0, layer.top - top), source=(-x, 0))
        a = np.asarray(out)
        merged = cls(top, a[..., :3], a[..., 3], 1.0)
        merged.trim(ch)
        return merged

    def trim(self, covered: int) -> int:
        """Keep the rows above canvas row `covered`; returns the row this layer covers from."""
        end = max(self.solid, min(covered - self.top, len(self.rgb)))
        self.edge = (Image.fromarray(self.rgb[:self.solid]), Image.fromarray(self.alpha[:self.solid]))
        self.body = Image.fromarray(self.rgb[self.solid:end]) if end > self.solid else None
        self.end = end
        return min(covered, self.top + self.solid)

    @functools.cached_property
    def sprites(self) -> tuple[Sprite | None, Sprite | None]:
        """Edge and body as 4:2:0 sprites, made when first drawn in planes."""
        return (Sprite(self.rgb[:self.solid], self.alpha[:self.solid]) if self.solid else None,
                Sprite(self.rgb[self.solid:self.end]) if self.end > self.solid else None)

    def draw(self, frame: Image.Image, x: int) -> None:
        """Paste at column offset `x` (<= 0: the layer is wider than the frame)."""
        if self.solid:
            frame.paste(self.edge[0], (x, self.top), self.edge[1])
        if self.body is not None:
            frame.paste(self.body, (x, self.top + self.solid))

    def draw_planes(self, planes: list[Image.Image], x: int, origin: int = 0) -> None:
        """`draw` on Y, U, V plane images whose first row is canvas row `origin` (even)."""
        edge, body = self.sprites
        if edge is not None:
            edge.paste(planes, x, self.top - origin)
        if body is not None:
            body.paste(planes, x, self.top + self.solid - origin)


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
