"""Dense optical flow by coarse-to-fine block matching, numpy only, at a few dozen pixels wide.

Good enough to carry shapes from one keyframe to the other: the morph needs where things go,
not sub-pixel accuracy, and at this size the whole estimate takes tens of milliseconds.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_LEVELS = (32, 64, 128)  # long side of each pyramid level, coarse to fine
_COARSE_RADIUS = 16  # search radius at the coarsest level: half the frame
_REFINE_RADIUS = 2
_BLOCK_RADIUS = 2  # 5x5 matching window
_SMOOTHNESS = 0.03  # cost per pixel of displacement: ties (flat areas) resolve to no motion


def features(image: Image.Image, long_side: int) -> np.ndarray:
    """RGB at `long_side`, normalised to zero mean / unit spread (exposure-independent).

    Colour, not just grey: two differently coloured objects of equal brightness must not match.
    """
    w, h = image.size
    k = long_side / max(w, h)
    small = image.convert("RGB").resize((max(4, round(w * k)), max(4, round(h * k))), Image.Resampling.BOX)
    a = np.asarray(small, dtype=np.float32)
    return (a - a.mean(axis=(0, 1))) / (a.std() + 8.0)


def box_mean(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)² window with edge replication, via cumulative sums (O(1) per pixel).

    `a` is (h, w) or a stack (n, h, w): the window runs over the last two axes.
    """
    lead = [(0, 0)] * (a.ndim - 2)
    p = np.pad(a, lead + [(r, r), (r, r)], mode="edge")
    c = np.cumsum(np.cumsum(p, axis=-2), axis=-1)
    c = np.pad(c, lead + [(1, 0), (1, 0)])
    n = 2 * r + 1
    return (c[..., n:, n:] - c[..., :-n, n:] - c[..., n:, :-n] + c[..., :-n, :-n]) / (n * n)


def median3(a: np.ndarray) -> np.ndarray:
    """3x3 median: drops isolated wrong matches without blurring motion boundaries."""
    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    stack = [p[y:y + h, x:x + w] for y in range(3) for x in range(3)]
    return np.median(np.stack(stack), axis=0)


def _match(a: np.ndarray, b: np.ndarray, init: np.ndarray, radius: int) -> np.ndarray:
    """Per pixel, the displacement (dy, dx) near `init` minimising the windowed |a(x) - b(x+d)|.

    All candidate displacements are costed at once (a cost volume, one numpy pass per step).
    """
    h, w = a.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    # Smallest displacements first: argmin keeps the first of equal costs, so exact ties keep
    # the smaller motion.
    span = range(-radius, radius + 1)
    offsets = sorted(((dy, dx) for dy in span for dx in span), key=lambda d: abs(d[0]) + abs(d[1]))
    offsets = np.asarray(offsets)
    fy = init[None, ..., 0] + offsets[:, 0, None, None]
    fx = init[None, ..., 1] + offsets[:, 1, None, None]
    at = (np.clip(ys + fy, 0, h - 1) * w + np.clip(xs + fx, 0, w - 1)).astype(np.intp)
    # Channel by channel (contiguous planes): |a - b(x + d)| summed over R, G, B.
    diff = np.zeros(at.shape, np.float32)
    for c in range(a.shape[2]):
        diff += np.abs(np.ascontiguousarray(b[..., c]).ravel()[at] - a[None, ..., c])
    # Penalise the step from `init`, not the total: inside a flat region every nearby match
    # costs the same, and the coarse level's answer is the one to keep.
    penalty = (_SMOOTHNESS * np.abs(offsets).sum(axis=1)).astype(np.float32)[:, None, None]
    cost = box_mean(diff, _BLOCK_RADIUS) + penalty
    pick = np.argmin(cost, axis=0)[None]
    return np.stack([np.take_along_axis(fy, pick, 0)[0], np.take_along_axis(fx, pick, 0)[0]], axis=-1)


def estimate(a_img: Image.Image, b_img: Image.Image) -> np.ndarray:
    """Flow F (h, w, 2) as (dy, dx) at the finest level such that a(p) ≈ b(p + F(p)).

    Units are pixels of the finest level; the caller scales them to its own resolution.
    """
    flow: np.ndarray | None = None
    for side in _LEVELS:
        a, b = features(a_img, side), features(b_img, side)
        if flow is None:
            init = np.zeros(a.shape[:2] + (2,), dtype=np.int64)
            radius = _COARSE_RADIUS
        else:
            # Upsample the previous level's flow (nearest, values doubled) as the starting point.
            h, w = a.shape[:2]
            ys = np.minimum(np.arange(h) * flow.shape[0] // h, flow.shape[0] - 1)
            xs = np.minimum(np.arange(w) * flow.shape[1] // w, flow.shape[1] - 1)
            init = flow[ys][:, xs] * 2
            radius = _REFINE_RADIUS
        flow = _match(a, b, init, radius)
        flow = np.stack([median3(flow[..., 0]), median3(flow[..., 1])], axis=-1).astype(np.int64)
    assert flow is not None
    smooth = flow.astype(np.float32)
    for _ in range(2):  # 3x3 box blur, twice: smooth enough to warp without tearing, edges kept
        smooth = np.stack([box_mean(smooth[..., 0], 1), box_mean(smooth[..., 1], 1)], axis=-1)
    return smooth


def project(flow: np.ndarray, t: float) -> np.ndarray:
    """The flow seen from time `t` (0 = the source image, 1 = the target) instead of from the source.

    Backward warping needs, at each output position p, the motion of whatever *arrives* at p. Each
    source pixel x is splatted to x + t·F(x); where several land on one cell the one moving most wins
    (the moving object is usually in front). Cells nothing lands on keep their own F(p): the warp
    then fetches pixels that do not belong there, which `visibility` detects.
    """
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    ty = np.rint(ys + t * flow[..., 0]).astype(np.int64)
    tx = np.rint(xs + t * flow[..., 1]).astype(np.int64)
    rank = np.argsort(np.argsort(np.hypot(flow[..., 0], flow[..., 1]), axis=None)).reshape(h, w)
    winner = np.full(h * w, -1, dtype=np.int64)
    for oy, ox in ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0)):  # a plus-shaped footprint fills stretch gaps
        cy, cx = ty + oy, tx + ox
        ok = (cy >= 0) & (cy < h) & (cx >= 0) & (cx < w)
        np.maximum.at(winner, (cy * w + cx)[ok], rank[ok])
    source = np.empty(h * w, dtype=np.int64)
    source[rank.ravel()] = np.arange(h * w)
    flat = flow.reshape(-1, 2)
    out = flat.copy()
    hit = winner >= 0
    out[hit] = flat[source[winner[hit]]]
    out = out.reshape(h, w, 2)
    return np.stack([median3(out[..., 0]), median3(out[..., 1])], axis=-1)


def sample(field: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear lookup of an (h, w, c) field at fractional positions (clamped to the edges)."""
    y = np.clip(y, 0, field.shape[0] - 1)
    x = np.clip(x, 0, field.shape[1] - 1)
    y0 = np.minimum(np.floor(y).astype(int), field.shape[0] - 2) if field.shape[0] > 1 else np.zeros_like(y, int)
    x0 = np.minimum(np.floor(x).astype(int), field.shape[1] - 2) if field.shape[1] > 1 else np.zeros_like(x, int)
    y1 = np.minimum(y0 + 1, field.shape[0] - 1)
    x1 = np.minimum(x0 + 1, field.shape[1] - 1)
    wy, wx = (y - y0)[..., None], (x - x0)[..., None]
    top = field[y0, x0] * (1 - wx) + field[y0, x1] * wx
    bottom = field[y1, x0] * (1 - wx) + field[y1, x1] * wx
    return top * (1 - wy) + bottom * wy


def visibility(field: np.ndarray, moved: np.ndarray, t: float) -> np.ndarray:
    """0..1 per flow cell: does the source pixel a backward warp fetches really travel here?

    Where an object has moved away, the warp fetches the object's old pixels, whose own motion
    says they are elsewhere now: those cells are disoccluded and must come from the other image.
    """
    h, w = field.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    fetched = sample(field, ys - t * moved[..., 0], xs - t * moved[..., 1])
    error = np.hypot(*(fetched - moved).transpose(2, 0, 1))
    return np.exp(-((error / 2.0) ** 2))
