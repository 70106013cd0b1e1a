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
    return np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t


def to_u8(a: np.ndarray) -> np.ndarray:
    """0..1 floats to 0..255 bytes, rounded."""
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def sky(theme: Theme, size: tuple[int, int], horizon: int, sun: tuple[float, float] | None) -> np.ndarray:
    """(h, w, 3) sky: a three-stop gradient down to the horizon, with the sun (or moon) and its halo."""
    w, h = size
    light = theme.light
    y = np.arange(h, dtype=np.float32)[:, None] / max(horizon, 1)
    y = np.clip(y, 0, 1)[..., None]
    upper = mix(light.sky_top, light.sky_mid, smoothstep(0.0, 0.6, y))
    rgb = mix(upper, light.horizon, smoothstep(0.45, 1.0, y))
    rgb = np.broadcast_to(rgb, (h, w, 3)).copy()
    if light.sun_size > 0 and sun is not None:
        sx, sy = sun
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        d = np.hypot(xx - sx, (yy - sy) * 1.15) / h  # a slightly wide halo, as haze spreads it
        r = light.sun_size
        halo = light.glow * (0.55 * np.exp(-(d / (r * 4)) ** 2) + 0.45 * np.exp(-(d / (r * 14)) ** 2))
        rgb += halo[..., None] * np.asarray(light.sun, np.float32) * 0.8
        disc = smoothstep(r, r * 0.85, d)[..., None]
        rgb = mix(rgb, light.sun, disc)
    return np.clip(rgb, 0, 1)


def haze(theme: Theme) -> np.ndarray:
    """Colour distant land fades into: the upper sky's, not the horizon glow (which is too warm)."""
    return mix(theme.light.sky_mid, theme.light.sky_top, 0.3)


def _band(top: np.ndarray, colour: np.ndarray, depth: float, height: int, shade: float,
          rng: np.random.Generator) -> Layer:
    """A layer filling everything below the per-column `top` profile, anti-aliased at the edge."""
    y0 = max(0, int(top.min()) - 1)
    rows = np.arange(y0, height, dtype=np.float32)[:, None]
    alpha = np.clip(rows - top[None, :] + 0.5, 0, 1)
    # Darker toward the foot of each band: reads as depth and keeps ridges apart.
    fall = np.clip((rows - top[None, :]) / max(1.0, height - y0), 0, 1)
    tex = fractal2d((height - y0, top.size), (6, 14), 3, rng)
    rgb = colour[None, None, :] * (1 - shade * fall[..., None]) * (0.9 + 0.2 * tex[..., None])
    return Layer(y0, rgb.astype(np.float32), alpha[..., None].astype(np.float32), depth)


def ridges(theme: Theme, size: tuple[int, int], horizon: int, margin: int, rng: np.random.Generator,
           count: int = 3) -> list[Layer]:
    """Mountain / hill / dune ranges from far (hazy, pale) to near (dark, detailed)."""
    w, h = size
    width = w + 2 * margin
    light = np.asarray(theme.light.land, np.float32)
    base = {
        "mountains": (0.36, 0.38, 0.44), "snow": (0.85, 0.88, 0.95), "desert": (0.86, 0.64, 0.40),
        "forest": (0.20, 0.32, 0.22), "hills": (0.30, 0.48, 0.24), "ocean": (0.30, 0.34, 0.40),
        "city": (0.20, 0.22, 0.26),
    }[theme.setting]
    sharp = theme.setting in ("mountains", "snow")
    layers = []
    for i in range(count):
        near = i / max(1, count - 1)  # 0 far .. 1 near
        n = fractal1d(width, 3 + 2 * i, 5, rng, persistence=0.55 if sharp else 0.4)
        if sharp:
            n = 1 - np.abs(2 * n - 1)  # ridged noise: sharp peaks
        amp = h * (0.30 - 0.08 * near if sharp else 0.10)
        top = horizon - amp * n + h * (0.0 + 0.18 * near) - (0.06 * h if sharp and i == 0 else 0)
        colour = mix(np.asarray(base) * light, haze(theme), 0.65 * (1 - near) ** 1.3)
        layer = _band(top, colour, 0.25 + 0.75 * near, h, 0.5 * near + 0.15, rng)
        if sharp:
            # Snow caps: the top of high peaks turns white, tinted by the light.
            # Snow caps: only peaks above a snow line, reaching further down the higher they are.
            rows = np.arange(layer.top, h, dtype=np.float32)[:, None]
            snow_line = horizon - amp * 0.6 + h * (0.02 + 0.08 * near)
            reach = np.clip(snow_line - top, 0, h * 0.05) * (0.5 + fractal1d(width, 40, 2, rng))
            cap = np.clip((top[None, :] + reach[None, :] - rows) / 2.0, 0, 1)[..., None]
            white = mix(np.asarray(theme.light.land) * 1.3, theme.light.horizon, 0.3 * (1 - near))
            layer.rgb = layer.rgb * (1 - 0.85 * cap) + white * 0.85 * cap
        if theme.setting == "desert":
            # Lit and shaded flanks of each dune, from the slope of its crest line.
            slope = np.gradient(top)
            layer.rgb *= (1.0 + 0.25 * np.tanh(slope * 0.6))[None, :, None]
        layers.append(layer)
    return layers


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
