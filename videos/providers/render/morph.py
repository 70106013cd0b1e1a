"""Keyframe-to-video: a flow-driven morph from the head image to the tail image.

Both keyframes are warped toward each other along the estimated motion (head forward by t, tail
backward by 1 - t) and dissolved with an eased weight, so shapes travel instead of ghosting in
place as a cross-fade would. The warp is a PIL mesh transform: piecewise-bilinear, in C.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import flow
from .camera import ease

_CELL = 48  # target mesh cell size in output pixels: PIL warps cell by cell, so fewer is faster


class Morph:
    """Frames from `head` (frame 0, exact) to `tail` (last frame, exact), both at the output size."""

    def __init__(self, head: Image.Image, tail: Image.Image, frames: int) -> None:
        if head.size != tail.size:
            raise ValueError("keyframes must have the same size")
        self.head, self.tail, self.frames = head, tail, frames
        self.forward = flow.estimate(head, tail)  # head(p) ≈ tail(p + forward(p))
        self.backward = flow.estimate(tail, head)
        w, h = head.size
        gx, gy = max(2, round(w / _CELL)), max(2, round(h / _CELL))
        self.xs = np.linspace(0, w, gx + 1)
        self.ys = np.linspace(0, h, gy + 1)
        fh, fw = self.forward.shape[:2]
        self.to_flow = (fh / h, fw / w)  # output pixels -> flow-grid pixels

    def frame(self, index: int) -> Image.Image:
        last = self.frames - 1
        if index <= 0 or last <= 0:
            return self.head
        if index >= last:
            return self.tail
        u = index / last
        t = ease(u)
        head, head_seen = self._warp(self.head, self.forward, t)
        tail, tail_seen = self._warp(self.tail, self.backward, 1 - t)
        # A steeper dissolve than the motion: each image dominates while it is near its own shape.
        weight = ease(min(1.0, max(0.0, (u - 0.5) * 1.6 + 0.5)))
        # Per cell, trust whichever warp fetched pixels that really belong there (see visibility).
        a = (1 - weight) * (head_seen + 0.05)
        b = weight * (tail_seen + 0.05)
        mask = Image.fromarray((b / (a + b) * 255).astype(np.uint8), "L")
        return Image.composite(tail, head, mask.resize(self.head.size, Image.Resampling.BILINEAR))

    def _warp(self, image: Image.Image, field: np.ndarray, t: float) -> tuple[Image.Image, np.ndarray]:
        """`image` with each part moved t of the way along `field` (mesh transform), and the
        visibility of the result per flow cell."""
        moved = flow.project(field, t)
        gy, gx = np.meshgrid(self.ys, self.xs, indexing="ij")
        # Sample the projected field at the mesh vertices (bilinear, in flow-grid coordinates).
        fy = np.clip(gy * self.to_flow[0] - 0.5, 0, moved.shape[0] - 1)
        fx = np.clip(gx * self.to_flow[1] - 0.5, 0, moved.shape[1] - 1)
        v = flow.sample(moved, fy, fx)
        w, h = image.size
        sy = np.clip(gy - t * v[..., 0] / self.to_flow[0], 0, h)
        sx = np.clip(gx - t * v[..., 1] / self.to_flow[1], 0, w)
        xs, ys = self.xs.round().astype(int), self.ys.round().astype(int)
        mesh = []
        for j in range(len(ys) - 1):
            for i in range(len(xs) - 1):
                quad = (sx[j, i], sy[j, i], sx[j + 1, i], sy[j + 1, i],
                        sx[j + 1, i + 1], sy[j + 1, i + 1], sx[j, i + 1], sy[j, i + 1])
                mesh.append(((xs[i], ys[j], xs[i + 1], ys[j + 1]), tuple(float(q) for q in quad)))
        warped = image.transform(image.size, Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
        return warped, flow.visibility(field, moved, t)
