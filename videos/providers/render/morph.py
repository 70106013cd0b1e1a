"""Keyframe-to-video: a flow-driven morph from the head image to the tail image.

Both keyframes are warped toward each other along the estimated motion (head forward by t, tail
backward by 1 - t) and dissolved with an eased weight, so shapes travel instead of ghosting in
place as a cross-fade would. Per frame:

* the dissolve of the two keyframes as they are, at full size (one PIL blend): exact wherever
  nothing moves;
* over the moving mesh cells (~48 px), each keyframe warped piecewise-bilinearly (a PIL mesh
  transform) at half size (a third at 1080p), dissolved, scaled up and feathered in over the
  first layer. Motion hides the softness, and it is 4x (9x) fewer pixels through PIL's
  per-pixel quad mapping.

The motion bookkeeping (splatting, visibility) runs once per clip, on a grid of a few thousand
cells at _STEPS instants; frames interpolate between them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
from PIL import Image

from . import flow, yuv
from .camera import ease

_CELL = 48  # target mesh cell size in output pixels
_MOTION_SIDE = 64  # long side of the grid the per-frame motion bookkeeping runs on
_STILL = 0.5  # output pixels: a cell whose corners all move less than this is left as it is
_STEPS = 25  # instants the motion is worked out at (per direction); frames interpolate between


class Morph:
    """Frames from `head` (frame 0, exact) to `tail` (last frame, exact), both at the output size."""

    def __init__(self, head: Image.Image, tail: Image.Image, frames: int) -> None:
        if head.size != tail.size:
            raise ValueError("keyframes must have the same size")
        self.head, self.tail, self.frames = head, tail, frames
        w, h = head.size
        # Moving cells are resampled at 1/k size (k must divide the frame so cells tile it).
        self.k = k = 3 if min(w, h) >= 1000 and w % 3 == 0 and h % 3 == 0 else 2 if min(w, h) >= 360 else 1
        self.small = {"head": _shrink(head, k), "tail": _shrink(tail, k)}
        gx, gy = max(2, round(w / _CELL)), max(2, round(h / _CELL))
        # Cell edges on the small grid, and on even pixels so that 4:2:0 chroma cells line up too.
        step = k if k % 2 == 0 else 2 * k
        self.xs = (np.linspace(0, w, gx + 1) / step).round().astype(int) * step
        self.ys = (np.linspace(0, h, gy + 1) / step).round().astype(int) * step
        self.gy, self.gx = np.meshgrid(self.ys.astype(np.float32), self.xs.astype(np.float32), indexing="ij")
        # The two directions are independent: work them out side by side (numpy releases the GIL).
        with ThreadPoolExecutor(2) as pool:
            head_side, tail_side = pool.map(self._tabulate, ((head, tail), (tail, head)), (frames, frames))
        self.tables = {"head": head_side, "tail": tail_side}
        self.planes = {"head": yuv.planes(head), "tail": yuv.planes(tail)}
        self._feathered: tuple | None = None  # (key, feathers) of the last moving area

    def _tabulate(self, pair: tuple[Image.Image, Image.Image], frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Motion of the first image toward the second, at _STEPS instants from 0 to 1: the
        displacement at each mesh vertex and the visibility per motion-grid cell. Frames
        interpolate between instants: the splatting behind them is too slow to run per frame."""
        field = _pool(flow.estimate(*pair))  # a(p) ≈ b(p + field(p)), in motion-grid pixels
        fh, fw = field.shape[:2]
        w, h = self.head.size
        to_flow = (fh / h, fw / w)  # output pixels -> motion-grid pixels
        # Where each mesh vertex sits on the motion grid (bilinear lookups of the field there).
        fy = np.clip(self.gy * to_flow[0] - 0.5, 0, fh - 1)
        fx = np.clip(self.gx * to_flow[1] - 0.5, 0, fw - 1)
        travel, seen = [], []
        for t in np.linspace(0.0, 1.0, max(2, min(frames, _STEPS))):
            moved = flow.project(field, t)
            v = flow.sample(moved, fy, fx)
            travel.append(np.stack([v[..., 0] / to_flow[0], v[..., 1] / to_flow[1]], axis=-1))  # output px
            seen.append(flow.visibility(field, moved, t))
        return np.stack(travel).astype(np.float32), np.stack(seen).astype(np.float32)

    def frame(self, index: int) -> Image.Image:
        """Frame `index` as an RGB image at the output size."""
        plan = self._plan(index)
        if not isinstance(plan, tuple):
            return self.head if plan == "head" else self.tail
        weight, overlay = plan
        base = self.head if weight <= 0 else self.tail if weight >= 1 else Image.blend(self.head, self.tail, weight)
        if overlay is None:
            return base
        box, mixed, feather = overlay
        if self.k > 1:
            mixed = mixed.resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.BILINEAR)
        out = base.copy() if base is self.head or base is self.tail else base
        out.paste(mixed, box[:2], feather[0])
        return out

    def video_frame(self, index: int) -> av.VideoFrame:
        """Frame `index` straight as the encoder's YUV 4:2:0, the same picture as `frame(index)`
        (to rounding) for about half the work: the dissolve runs on the keyframes' own 8-bit
        planes (half the bytes of RGB, converted once), and only the warped box is converted,
        by swscale, in the same pass that scales it up from the warp's size."""
        plan = self._plan(index)
        if not isinstance(plan, tuple):
            return yuv.video_frame(self.planes[plan])
        weight, overlay = plan
        head, tail = self.planes["head"], self.planes["tail"]
        planes = head if weight <= 0 else tail if weight >= 1 else [
            Image.blend(a, b, weight) for a, b in zip(head, tail)]
        if overlay is not None:
            box, mixed, feather = overlay
            warped = yuv.planes(mixed, (box[2] - box[0], box[3] - box[1]))
            planes = [plane.copy() for plane in planes] if planes is head or planes is tail else planes
            for i, (plane, part) in enumerate(zip(planes, warped)):
                at = box[:2] if i == 0 else (box[0] // 2, box[1] // 2)
                plane.paste(part, at, feather[min(i, 1)])
        return yuv.video_frame(planes)

    def _plan(self, index: int) -> str | tuple[float, tuple | None]:
        """"head" or "tail" for a frame that is exactly that keyframe; else the dissolve weight
        and the warped overlay: (box, its warped pixels at 1/k size, (feather, half-size feather))."""
        last = self.frames - 1
        if index <= 0 or last <= 0:
            return "head"
        if index >= last:
            return "tail"
        u = index / last
        t = ease(u)
        # A steeper dissolve than the motion: each image dominates while it is near its own shape.
        weight = ease(min(1.0, max(0.0, (u - 0.5) * 1.6 + 0.5)))
        sides = []  # (key, image, sample points, moving cells, visibility)
        if weight < 1:
            sides.append(("head", self.head, *self._motion("head", t)))
        if weight > 0:
            sides.append(("tail", self.tail, *self._motion("tail", 1 - t)))
        mask = None
        if len(sides) == 2:
            # Per cell, trust whichever warp fetched pixels that really belong there (see visibility).
            a = (1 - weight) * (sides[0][4] + 0.05)
            b = weight * (sides[1][4] + 0.05)
            mask = Image.fromarray((b / (a + b) * 255 + 0.5).astype(np.uint8), "L")
            # Away from the motion both warps see what is really there (visibility 1): the mask
            # is just `weight`, a plain dissolve. The overlay applies the mask where it varies.
        moving = np.logical_or.reduce([side[3] for side in sides])
        return weight, (self._overlay(sides, moving, mask) if moving.any() else None)

    def _motion(self, key: str, t: float) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
        """Where each mesh vertex fetches from when moved t of the way, which cells move, and the
        visibility per motion-grid cell."""
        travel, seen = self.tables[key]
        pos = t * (len(travel) - 1)
        i = min(int(pos), len(travel) - 2)
        f = pos - i
        v = travel[i] + f * (travel[i + 1] - travel[i])
        w, h = self.head.size
        sy = np.clip(self.gy - t * v[..., 0], 0, h)
        sx = np.clip(self.gx - t * v[..., 1], 0, w)
        travel = np.maximum(np.abs(sy - self.gy), np.abs(sx - self.gx))
        corner = np.maximum(np.maximum(travel[:-1, :-1], travel[1:, :-1]),
                            np.maximum(travel[:-1, 1:], travel[1:, 1:]))
        return (sx, sy), corner >= _STILL, seen[i] + f * (seen[i + 1] - seen[i])

    def _overlay(self, sides: list, moving: np.ndarray, mask: Image.Image | None) -> tuple:
        """The moving cells' bounding box, the warped and dissolved pixels in it (at 1/k size) and
        the feather to lay them over the dissolve with (at full and half size)."""
        rows, cols = np.nonzero(moving)
        j0, j1, i0, i1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        xs, ys, k = self.xs, self.ys, self.k
        box = (int(xs[i0]), int(ys[j0]), int(xs[i1]), int(ys[j1]))
        small_size = ((box[2] - box[0]) // k, (box[3] - box[1]) // k)
        cells = np.stack([(xs[cols] - box[0]) // k, (ys[rows] - box[1]) // k,
                          (xs[cols + 1] - box[0]) // k, (ys[rows + 1] - box[1]) // k], axis=-1)
        boxes = [tuple(cell) for cell in cells.tolist()]
        warped = []
        for key, _, (sx, sy), _, _ in sides:
            # Each output cell's source quad: corners NW, SW, SE, NE, in small-image pixels.
            quads = np.stack([sx[:-1, :-1], sy[:-1, :-1], sx[1:, :-1], sy[1:, :-1],
                              sx[1:, 1:], sy[1:, 1:], sx[:-1, 1:], sy[:-1, 1:]], axis=-1) / k
            warped.append(_mesh(self.small[key], small_size, boxes, quads[rows, cols], cells))
        mixed = warped[0]
        if mask is not None:
            fy, fx = mask.height / self.head.height, mask.width / self.head.width
            flow_box = (box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy)
            mixed = Image.composite(warped[1], warped[0],
                                    mask.resize(small_size, Image.Resampling.BILINEAR, box=flow_box))
        return box, mixed, self._feather(moving[j0:j1, i0:i1], (box[2] - box[0], box[3] - box[1]))

    def _feather(self, moving: np.ndarray, size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
        """Per cell corner, 255 where every cell around it moves, else 0; bilinear between corners.
        Inside the moving area 255, fading to 0 across its edge cells, 0 in every still cell
        (those were not warped: black in the overlay). Kept while the moving cells stay the same."""
        key = (moving.shape, moving.tobytes(), size)
        cached = self._feathered  # one read: frames are made on two threads
        if cached is None or cached[0] != key:
            inside = np.pad(moving, 1)
            corners = inside[:-1, :-1] & inside[1:, :-1] & inside[:-1, 1:] & inside[1:, 1:]
            ny, nx = moving.shape
            full = Image.fromarray(corners.astype(np.uint8) * 255).resize(
                size, Image.Resampling.BILINEAR, box=(0.5, 0.5, nx + 0.5, ny + 0.5))
            cached = (key, (full, full.resize((size[0] // 2, size[1] // 2), Image.Resampling.BILINEAR)))
            self._feathered = cached
        return cached[1]


def _mesh(source: Image.Image, size: tuple[int, int], boxes: list[tuple[int, ...]], quads: np.ndarray,
          cells: np.ndarray) -> Image.Image:
    """`source.transform(size, MESH, zip(boxes, quads), BILINEAR)`, with the per-cell quad
    coefficients worked out for all cells at once (Pillow's own loop spends ~6 µs of Python per
    cell on them, as much as the pixels of a small cell cost)."""
    q = quads.astype(np.float64)
    x0, y0 = q[:, 0], q[:, 1]
    sw, se, ne = q[:, 2:4], q[:, 4:6], q[:, 6:8]
    a_s = 1.0 / (cells[:, 2] - cells[:, 0])
    a_t = 1.0 / (cells[:, 3] - cells[:, 1])
    # The same expressions, in the same order, as Pillow's QUAD set-up: identical pixels.
    coeffs = np.stack([x0, (ne[:, 0] - x0) * a_s, (sw[:, 0] - x0) * a_t, (se[:, 0] - sw[:, 0] - ne[:, 0] + x0) * a_s * a_t,
                       y0, (ne[:, 1] - y0) * a_s, (sw[:, 1] - y0) * a_t, (se[:, 1] - sw[:, 1] - ne[:, 1] + y0) * a_s * a_t],
                      axis=-1).tolist()
    out = Image.new(source.mode, size)
    core, src = out.im, source.im
    for box, data in zip(boxes, coeffs):
        core.transform(box, src, Image.Transform.QUAD, data, Image.Resampling.BILINEAR, True)
    return out


def _shrink(image: Image.Image, k: int) -> Image.Image:
    return image if k == 1 else image.reduce(k)


def _pool(field: np.ndarray) -> np.ndarray:
    """The field averaged down to about _MOTION_SIDE on its long side, in that grid's pixels."""
    h, w = field.shape[:2]
    k = max(1, round(max(h, w) / _MOTION_SIDE))
    if k == 1:
        return field
    h2, w2 = h // k, w // k
    pooled = field[:h2 * k, :w2 * k].reshape(h2, k, w2, k, 2).mean(axis=(1, 3))
    return (pooled / k).astype(np.float32)
