"""Seeded, tileable value noise: the raw material for clouds, terrain, water and grain."""

from __future__ import annotations

import numpy as np
from PIL import Image


def fractal2d(shape: tuple[int, int], cells: tuple[int, int], octaves: int, rng: np.random.Generator,
              persistence: float = 0.5) -> np.ndarray:
    """(h, w) float32 noise in 0..1 that tiles horizontally and vertically.

    `cells` is the (rows, cols) count of random values at the first octave; each further octave
    doubles it at `persistence` times the amplitude. Bicubic upsampling of the middle tile of a 3x3
    tiling of the grid makes the wrap seamless, which lets layers scroll with np.roll.
    """
    h, w = shape
    total = np.zeros(shape, dtype=np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        gy, gx = cells[0] << octave, cells[1] << octave
        grid = rng.random((gy, gx), dtype=np.float32)
        tiled = Image.fromarray(np.tile(grid, (3, 3)), mode="F")
        # Only the middle tile is resampled; the filter still reads its neighbours across the edges.
        middle = tiled.resize((w, h), Image.Resampling.BICUBIC, box=(gx, gy, 2 * gx, 2 * gy))
        total += amplitude * np.asarray(middle)
        norm += amplitude
        amplitude *= persistence
    total /= norm
    # Percentiles of every third row and column: the noise is smooth, so they are the same to a
    # fraction of a percent, for a ninth of the sorting.
    lo, hi = (float(v) for v in np.percentile(total[::3, ::3], (1, 99)))  # Python floats: stays float32
    total -= lo
    total *= 1 / max(hi - lo, 1e-6)
    return np.clip(total, 0, 1, out=total)


def fractal1d(length: int, cells: int, octaves: int, rng: np.random.Generator,
              persistence: float = 0.5) -> np.ndarray:
    """(length,) float32 noise in 0..1, smooth (smoothstep between random control points)."""
    x = np.arange(length, dtype=np.float32) / length
    total = np.zeros(length, dtype=np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        n = cells << octave
        points = rng.random(n + 1).astype(np.float32)
        pos = x * n
        i = pos.astype(int)
        f = pos - i
        f = f * f * (3 - 2 * f)
        total += amplitude * (points[i] * (1 - f) + points[i + 1] * f)
        norm += amplitude
        amplitude *= persistence
    return total / norm


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0, 1)
    return t * t * (3 - 2 * t)
