"""Static scene layers built once per clip: sky, ridges, tree lines, dunes, skylines.

A layer is a band of rows with colour and coverage, wider than the canvas by a margin on each
side so it can slide sideways for parallax. Everything here runs once; frames only slice it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .noise import fractal1d, fractal2d, smoothstep
from .palette import RGB, Theme


@dataclass
class Layer:
    top: int  # first canvas row of the band
    rgb: np.ndarray  # (rows, width + 2 * margin, 3) float32
    alpha: np.ndarray  # (rows, width + 2 * margin, 1) float32, 0..1
    depth: float  # 0 = at infinity (follows the camera), 1 = nearest (full parallax)


def mix(a: RGB | np.ndarray, b: RGB | np.ndarray, t: float | np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if isinstance(t, np.ndarray) and t.ndim >= 2 and t.shape[-1] == 1 and a.shape == b.shape == (3,):
        # Two colours over a map: a channel at a time. Broadcasting (..., 1) against (3,) runs
        # numpy's inner loop three elements long, ~4x slower.
        t2 = t[..., 0]
        out = np.empty((*t2.shape, 3), np.result_type(t2.dtype, np.float32))
        for c in range(3):
            np.multiply(t2, b[c] - a[c], out=out[..., c])
            out[..., c] += a[c]
        return out
    return a * (1 - t) + b * t


def scale_channels(rgb: np.ndarray, k: np.ndarray) -> np.ndarray:
    """rgb[..., c] *= k for each channel, in place (k: rgb's shape less the channels)."""
    for c in range(rgb.shape[-1]):
        rgb[..., c] *= k
    return rgb


def to_u8(a: np.ndarray) -> np.ndarray:
    """0..1 floats to 0..255 bytes, rounded."""
    x = np.clip(a, 0, 1, dtype=np.float32)
    x *= 255
    x += 0.5
    return x.astype(np.uint8)


def sky(theme: Theme, size: tuple[int, int], horizon: int, sun: tuple[float, float] | None) -> np.ndarray:
    """(h, w, 3) sky: a three-stop gradient down to the horizon, with the sun (or moon) and its halo."""
    w, h = size
    light = theme.light
    y = np.arange(h, dtype=np.float32)[:, None] / max(horizon, 1)
    y = np.clip(y, 0, 1)[..., None]
    upper = mix(light.sky_top, light.sky_mid, smoothstep(0.0, 0.6, y))
    rgb = mix(upper, light.horizon, smoothstep(0.45, 1.0, y))
    if not (light.sun_size > 0 and sun is not None):
        return np.broadcast_to(np.clip(rgb, 0, 1), (h, w, 3)).copy()
    sx, sy = sun
    # Distance from the sun, in frame heights, rows stretched a little: a slightly wide halo, as
    # haze spreads it. The halo's Gaussians are separable (exp(-(x² + y²)) = exp(-x²)·exp(-y²)),
    # so each is an outer product of a row and a column of exponentials: no per-pixel exp.
    dx = (np.arange(w, dtype=np.float32) - np.float32(sx)) / h
    dy = (np.arange(h, dtype=np.float32) - np.float32(sy)) * np.float32(1.15 / h)
    r = light.sun_size
    halo = np.zeros((h, w), np.float32)
    for weight, spread in ((0.55, r * 4), (0.45, r * 14)):
        k = np.float32(-1 / spread ** 2)
        halo += np.outer(np.float32(light.glow * weight) * np.exp(dy * dy * k), np.exp(dx * dx * k))
    out = np.empty((h, w, 3), np.float32)
    for c, v in enumerate(np.asarray(light.sun, np.float32) * np.float32(0.8)):  # a channel at a time (see mix)
        np.multiply(halo, v, out=out[..., c])
        out[..., c] += rgb[:, :, c]
    # The disc only where it is (d < r): a small box around the sun.
    rows = np.nonzero(np.abs(dy) < r)[0]
    cols = np.nonzero(np.abs(dx) < r)[0]
    if rows.size and cols.size:
        box = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        d = np.hypot(dx[None, box[1]], dy[box[0], None])
        out[box] = mix(out[box], light.sun, smoothstep(r, r * 0.85, d)[..., None])
    return np.clip(out, 0, 1, out=out)


_ROCK = (0.36, 0.38, 0.44)


def haze(theme: Theme) -> np.ndarray:
    """Colour distant land fades into: the upper sky's, not the horizon glow (which is too warm)."""
    return mix(theme.light.sky_mid, theme.light.sky_top, 0.3)


def _band(top: np.ndarray, colour: np.ndarray, depth: float, height: int, shade: float,
          rng: np.random.Generator, grain: float = 0.2) -> Layer:
    """A layer filling everything below the per-column `top` profile, anti-aliased at the edge."""
    top = top.astype(np.float32)
    y0 = max(0, int(top.min()) - 1)
    rows = np.arange(y0, height, dtype=np.float32)[:, None]
    below = rows - top[None, :]
    alpha = np.clip(below + 0.5, 0, 1)
    # Darker toward the foot of each band: reads as depth and keeps ridges apart.
    fall = np.clip(below * np.float32(1 / max(1.0, height - y0)), 0, 1)
    tex = fractal2d((height - y0, top.size), (6, 14), 3, rng)
    # One light factor per pixel, then the colour: a single pass over the three channels.
    light = (1 - np.float32(shade) * fall) * (np.float32(1 - grain / 2) + np.float32(grain) * tex)
    rgb = np.empty((*light.shape, 3), np.float32)
    for c, v in enumerate(np.asarray(colour, np.float32)):
        np.multiply(light, v, out=rgb[..., c])
    return Layer(y0, rgb, alpha[..., None], depth)


def ridges(theme: Theme, size: tuple[int, int], horizon: int, margin: int, rng: np.random.Generator,
           count: int = 3) -> list[Layer]:
    """Mountain / hill / dune ranges from far (faded into the sky) to near (dark, detailed)."""
    w, h = size
    width = w + 2 * margin
    light = np.asarray(theme.light.land, np.float32)
    base = {
        "mountains": _ROCK, "snow": (0.85, 0.88, 0.95), "desert": (0.86, 0.64, 0.40),
        "forest": (0.20, 0.32, 0.22), "hills": (0.30, 0.48, 0.24), "ocean": (0.30, 0.34, 0.40),
        "city": (0.20, 0.22, 0.26),
    }[theme.setting]
    sharp = theme.setting in ("mountains", "snow")
    # The air's colour at each row: the sky's there (no sun), a little toward the upper sky's so
    # the haze below a warm horizon does not glow.
    air = mix(sky(theme, (1, h), horizon, None)[:, 0], haze(theme), 0.3)
    if theme.setting == "desert":  # dust in the air: a warm haze, not a grey one
        air = mix(air, np.asarray(base, np.float32) * light, 0.4)
    layers = []
    for i in range(count):
        near = i / max(1, count - 1)  # 0 far .. 1 near
        snowfield = theme.setting == "snow" and i == count - 1  # the near slope; far ones are rock under snow
        n = fractal1d(width, 3 + 2 * i, 5, rng, persistence=0.55 if sharp else 0.4)
        if sharp and not snowfield:
            n = 1 - np.abs(2 * n - 1)  # ridged noise: sharp peaks
        amp = h * (0.30 - 0.08 * near if sharp else 0.10) * (0.4 if snowfield else 1)
        lift = 0.06 * h if sharp and i == 0 else 0  # the farthest range rises highest
        top = horizon - amp * n + h * ((0.1 if snowfield else 0.18) * near) - lift
        colour = np.asarray(base if snowfield or theme.setting != "snow" else _ROCK, np.float32) * light
        if snowfield:  # snow throws back much of the sky's light: brighter than the light on rock
            colour = np.asarray(base, np.float32) * mix(light, theme.light.cloud, 0.5)
        layer = _band(top, colour, 0.25 + 0.75 * near, h, 0.25 if snowfield else 0.5 * near + 0.15, rng,
                      grain=0.06 if snowfield else 0.2)
        rows = np.arange(layer.top, h, dtype=np.float32)[:, None]
        below = np.clip(rows - top[None, :], 0, None)  # rows under the crest
        steep = 0.6 if theme.setting == "desert" else 0.35
        slope = np.tanh(_smooth(np.gradient(top), w // 120) * steep)[None, :]
        if sharp:
            # Lit and shaded flanks near the crest: the range reads as rock faces, not a flat cut-out.
            # The crease between them runs down and sideways from each peak, as the faces do.
            cols = np.minimum(np.arange(width)[None, :] + (below * 0.7).astype(np.int32), width - 1)
            slope = slope[0][cols]
            scale_channels(layer.rgb, 1 + 0.2 * slope * np.exp(-below / (h * 0.08)))
            if not snowfield and i < (2 if theme.setting == "snow" else 1) and count > 1:
                _snow_caps(layer, theme, top, below, slope, rng)
        if theme.setting == "desert":
            scale_channels(layer.rgb, np.broadcast_to(1.0 + 0.25 * slope, layer.rgb.shape[:2]))  # lit and shaded dune flanks
        _aerial(layer, air, rows, np.clip(rows - _smooth(top, w // 12)[None, :], 0, None), near, h)
        layers.append(layer)
    return layers


def _snow_caps(layer: Layer, theme: Theme, top: np.ndarray, below: np.ndarray, slope: np.ndarray,
               rng: np.random.Generator) -> None:
    """Snow above a snow line (an altitude, so only the peaks that rise above it), reaching down
    gullies in narrow streaks; never more than a thin cap below the crest unless the scene is snowy.
    Lit and shadowed sides follow the ridge."""
    h = below.shape[0] + layer.top
    deep = theme.setting == "snow"
    snow_line = np.percentile(top, 75 if deep else 12)  # a row: the highest peaks only, unless snowy
    depth = np.minimum(np.clip(snow_line - top, 0, None) * (0.7 + 0.6 * fractal1d(top.size, 30, 2, rng)),
                       h * (0.25 if deep else 0.03))[None, :]  # how far below the crest snow lies
    reach, soft = h * (0.08 if deep else 0.012), h * 0.03 if deep else 1.5
    end = min(below.shape[0], int(snow_line + reach + soft) + 2 - layer.top)  # rows below: no snow
    below, slope = below[:end], slope[:end]
    streaks = fractal2d(below.shape, (3, 40), 3, rng) - 0.5  # tall, narrow: gullies and spurs
    # A wide, soft snow line where it is low (snowy scenes): a sharp one would read as a ridge.
    cap = np.clip((depth + streaks * reach - below) / soft + 0.5, 0, 1)
    cap *= smoothstep(0.5, 2.5, depth)  # no specks on low bumps
    white = np.asarray(theme.light.land, np.float32) * 0.3 + np.asarray(theme.light.cloud, np.float32) * 0.7
    snow = mix(mix(white * 0.72, theme.light.sky_top, 0.3), white, (0.5 + 0.5 * slope)[..., None])
    layer.rgb[:end] = layer.rgb[:end] * (1 - cap[..., None]) + snow * cap[..., None]


def _smooth(a: np.ndarray, radius: int) -> np.ndarray:
    """`a` blurred by two box passes of 2·radius + 1 (a triangle filter); edges held."""
    if radius < 1:
        return a
    k = np.ones(2 * radius + 1, np.float32) / (2 * radius + 1)
    for _ in range(2):
        a = np.convolve(np.pad(a, radius, mode="edge"), k, mode="valid")
    return a


def _aerial(layer: Layer, air: np.ndarray, rows: np.ndarray, below: np.ndarray, near: float, h: int) -> None:
    """Aerial perspective: distant ranges fade into the sky's colour at their height, most at their
    foot (haze pools in the valleys), so the ranges step back into the horizon. `below`: rows under
    the range's broad outline (not each peak's, which would hang a streak of haze under every peak)."""
    far = 1 - near
    if far <= 0:
        return
    mist = smoothstep(0.0, h * 0.2, below)
    keep = np.clip(0.55 * far ** 1.2 + 0.35 * far * mist, 0, 0.92)
    np.subtract(1, keep, out=keep)  # 1 - the haze's share
    # rgb·(1 - a) + air·a, as (rgb - air)·(1 - a) + air: in place, no full-size temporaries.
    tint = air[rows[:, 0].astype(int)].astype(np.float32)  # (rows, 3): the air's colour at each row
    rgb = layer.rgb
    for c in range(3):
        channel = rgb[..., c]
        channel -= tint[:, c:c + 1]
        channel *= keep
        channel += tint[:, c:c + 1]


def tree_line(theme: Theme, size: tuple[int, int], horizon: int, margin: int, rng: np.random.Generator,
              near: float) -> Layer:
    """A row of conifers: the max of many triangular profiles on a gently rolling base."""
    w, h = size
    width = w + 2 * margin
    x = np.arange(width, dtype=np.float32)
    base = horizon + h * (0.03 + 0.25 * near) - h * 0.05 * fractal1d(width, 4, 3, rng)
    spacing = max(3.0, w * (0.012 + 0.02 * near))
    centres = np.arange(-spacing, width + spacing, spacing) + rng.uniform(-0.4, 0.4, 1) * spacing
    centres = centres + rng.uniform(-0.35, 0.35, centres.size) * spacing
    heights = h * (0.08 + 0.14 * near) * rng.uniform(0.6, 1.2, centres.size)
    halfw = spacing * rng.uniform(0.55, 0.8, centres.size)
    profile = np.max(heights[:, None] * np.clip(1 - np.abs(x[None, :] - centres[:, None]) / halfw[:, None], 0, 1),
                     axis=0)
    colour = mix(np.asarray((0.10, 0.22, 0.14)) * np.asarray(theme.light.land), theme.light.horizon,
                 0.6 * (1 - near) ** 1.5)
    return _band(base - profile, colour, 0.4 + 0.6 * near, h, 0.35, rng)


def skyline(theme: Theme, size: tuple[int, int], horizon: int, margin: int, rng: np.random.Generator,
            near: float) -> tuple[Layer, np.ndarray]:
    """City blocks with lit windows. Returns the layer and a (rows, width, 3) window-light colour map."""
    w, h = size
    width = w + 2 * margin
    top = np.empty(width, dtype=np.float32)
    x = 0
    while x < width:
        bw = int(rng.uniform(0.03, 0.08) * w * (0.6 + 0.6 * near)) + 2
        bh = h * rng.uniform(0.08, 0.38) * (0.7 + 0.5 * near)
        top[x:x + bw] = horizon + h * 0.12 * near - bh
        gap = int(rng.integers(0, 3))
        top[x + bw:x + bw + gap] = horizon + h * 0.12 * near  # alleys down to street level
        x += bw + gap
    colour = mix(np.asarray((0.18, 0.2, 0.26)) * np.asarray(theme.light.land), theme.light.horizon, 0.5 * (1 - near))
    layer = _band(top, colour, 0.45 + 0.55 * near, h, 0.2, rng)
    rows = np.arange(layer.top, h)[:, None]
    cols = np.arange(width)[None, :]
    cell = max(1, int(w * 0.003 * (0.7 + near)))
    grid = ((rows % (cell * 2)) < cell) & ((cols % (cell * 3)) < cell * 2) & (rows > top[None, :] + cell)
    shape = ((h - layer.top) // (cell * 2) + 1, width // (cell * 3) + 1)
    lit = rng.random(shape) < 0.3
    warm = np.asarray([(1.0, 0.80, 0.45), (1.0, 0.92, 0.70), (0.55, 0.85, 1.0), (1.0, 0.6, 0.3)], np.float32)
    tint = warm[rng.choice(4, shape, p=(0.45, 0.3, 0.15, 0.1))] * rng.uniform(0.5, 1.0, shape + (1,))
    index = ((rows - layer.top) // (cell * 2), cols // (cell * 3))
    windows = (grid & lit[index])[..., None] * tint[index]
    return layer, windows.astype(np.float32)
