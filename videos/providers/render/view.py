"""The camera's view of a picture at the output size, resampled by swscale (libswscale's SIMD scaler).

A camera view is a box of the source, in source pixels, shown at the output size: a zoom and a pan.
PIL resamples such a box exactly but slowly (an I2V frame's six plane resizes took ~6.5 ms at 720p);
swscale scales a whole 720p frame's Y, U and V in ~0.4 ms, but only from an integer crop of the
source to an integer size. So the box is split into integer steps whose product is the box, to a
fraction of an output pixel: the source is cropped a little wider than the box (at even offsets,
for 4:2:0 chroma), scaled to an integer size a little larger than the output, chosen so the box's
scale comes out right, and the output is cut from that at integer offsets. Among a few candidate
crops and sizes the one whose mapping lands nearest the box is kept: a fifth to half an output
pixel off typically, about one at worst, far less than the camera travels in a frame, so motion
stays smooth. A clip's camera path is known in advance, so all its cuts are worked out at once.

Frames are `yuv420p`; planes are handed around as numpy arrays (Y, U, V), U and V at half size.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

_scalers = threading.local()


def scaler() -> VideoReformatter:
    """This thread's swscale context holder. Single-threaded swscale: the frame pipeline already
    runs frames side by side, and auto threads cost ~50% more CPU for the same frame."""
    instance = getattr(_scalers, "instance", None)
    if instance is None:
        instance = _scalers.instance = VideoReformatter()
    return instance


def scale(frame: av.VideoFrame, size: tuple[int, int], fmt: str = "yuv420p") -> av.VideoFrame:
    """`frame` scaled bilinearly to `size` (and converted to `fmt`) by swscale, on one thread."""
    return scaler().reformat(frame, size[0], size[1], fmt, interpolation="BILINEAR", threads=1)


def to_image(frame: av.VideoFrame) -> Image.Image:
    """A frame as an RGB image, converted by this thread's swscale context on one thread."""
    return scale(frame, (frame.width, frame.height), "rgb24").to_image()


def planes_of(frame: av.VideoFrame) -> list[np.ndarray]:
    """Writable numpy views of a yuv420p frame's Y, U and V planes (no copy)."""
    out = []
    for i, plane in enumerate(frame.planes):
        w, h = (frame.width, frame.height) if i == 0 else (frame.width // 2, frame.height // 2)
        out.append(np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:h, :w])
    return out


class FramePool:
    """Output frames handed back once encoded, to be filled again: a 720p frame is 1.4 MB, and a
    fresh one costs page faults and zeroing every time. libx264 copies each picture into its own
    buffers while `encode` runs, so a frame is free once written. Thread-safe; keeps at most
    `limit` idle frames of each size."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self._idle: dict[tuple[int, int], list[av.VideoFrame]] = {}
        self._lock = threading.Lock()

    def take(self, size: tuple[int, int]) -> av.VideoFrame:
        """A yuv420p frame of `size`, contents undefined (every pixel is to be written)."""
        with self._lock:
            idle = self._idle.get(size)
            if idle:
                return idle.pop()
        return av.VideoFrame(size[0], size[1], "yuv420p")

    def give(self, frame: av.VideoFrame) -> None:
        """Hand back a frame nobody reads or writes any more (e.g. just encoded)."""
        if frame.format.name != "yuv420p":
            return
        with self._lock:
            idle = self._idle.setdefault((frame.width, frame.height), [])
            if len(idle) < self.limit:
                idle.append(frame)

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()


frames = FramePool()  # the process's; the pipeline hands frames back after encoding them


def frame_of(planes: Sequence[np.ndarray], pool: FramePool | None = None) -> av.VideoFrame:
    """A yuv420p frame holding a copy of `planes` (Y, then U and V at half size): a new one, or
    one from `pool`."""
    h, w = planes[0].shape[:2]
    frame = pool.take((w, h)) if pool is not None else av.VideoFrame(w, h, "yuv420p")
    for dst, src in zip(planes_of(frame), planes, strict=True):
        dst[...] = src
    return frame


@dataclass(frozen=True)
class Cut:
    """How one view is made: the source crop (x, y, w, h) is scaled to `scaled` (w, h) and the
    output's rows `rows` are taken from `offset` (x, y) in it. Crop and sizes are even (4:2:0);
    odd offsets are rounded down for chroma."""

    crop: tuple[int, int, int, int]
    scaled: tuple[int, int]
    offset: tuple[int, int]
    rows: tuple[int, int]
    width: int  # the output's
    error: float  # output pixels, at the worst corner: how far the cut lands from the box


def cuts(boxes: Sequence[tuple[float, float, float, float]], size: tuple[int, int],
         source: tuple[int, int], rows: tuple[int, int] | None = None) -> list[Cut]:
    """The cut for each of `boxes` (left, top, right, bottom in pixels of a `source`-sized
    picture) shown at output `size`, for output rows `rows` (even; all by default). Worked out
    for all boxes at once: a clip's camera path is known before its first frame."""
    w, h = size
    first, last = rows or (0, h)
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x = _axis(b[:, 0], b[:, 2] - b[:, 0], w, 0, w, source[0])
    y = _axis(b[:, 1], b[:, 3] - b[:, 1], h, first, last, source[1])
    return [Cut((xs, ys, xl, yl), (xn, yn), (xo, yo), (first, last), w, max(xe, ye))
            for (xs, xl, xn, xo, xe), (ys, yl, yn, yo, ye) in zip(zip(*x), zip(*y), strict=True)]


_STEPS = np.arange(0, 8, 2)  # candidates: crops and scaled sizes this many (even) pixels larger


def _axis(lo: np.ndarray, span: np.ndarray, out: int, first: int, last: int, source: int) -> tuple[list, ...]:
    """One axis of `cuts`, for n boxes: output pixels [first, last) of the n boxes [lo, lo + span)
    (each maps all `out` output pixels) of a `source`-pixel axis, as lists of crop start, crop
    length, scaled length, offset and error.

    Pixel centres map as in PIL and swscale: output x shows source lo + (x + 0.5)·span/out - 0.5.
    A few candidate crops and sizes are costed at once; each lands the output grid at a different
    phase, and the nearest is kept.
    """
    s = (span / out)[:, None, None, None]  # source pixels per output pixel
    lo = lo[:, None, None, None]
    want_lo, want_hi = lo + first * s, lo + last * s
    start = np.maximum(0, np.floor(want_lo - 1).astype(np.int64) // 2 * 2 - _STEPS[:, None, None])
    end = np.minimum(source, -(-np.ceil(want_hi + 1).astype(np.int64) // 2) * 2 + _STEPS[None, :3, None])
    length = end - start
    scaled = np.maximum(2, (length / s).astype(np.int64) // 2 * 2) + _STEPS[None, None, :]
    t = length / scaled  # the scale swscale applies
    # Output x is scaled pixel x - first + offset: source start + (x - first + offset + 0.5)·t - 0.5.
    # The offset that puts the middle output pixel exactly where the box wants it:
    middle = (first + last - 1) / 2
    offset = np.maximum(0, np.rint((lo + (middle + 0.5) * s - start) / t - (middle - first) - 0.5)).astype(np.int64)
    at_first = np.abs(start + (offset + 0.5) * t - lo - (first + 0.5) * s)
    at_last = np.abs(start + (last - 1 - first + offset + 0.5) * t - lo - (last - 0.5) * s)
    error = np.maximum(at_first, at_last) / s
    # An odd offset leaves chroma (half size) half a chroma pixel off: only if it is clearly nearer.
    score = np.where(offset + (last - first) > scaled, np.inf, error + 0.15 * (offset % 2)).reshape(len(lo), -1)
    pick = np.argmin(score, axis=1)
    assert np.isfinite(score[np.arange(len(lo)), pick]).all(), (lo, span, out, first, last, source)
    shape, rows = offset.shape, np.arange(len(lo))
    return tuple(np.broadcast_to(a, shape).reshape(len(lo), -1)[rows, pick].tolist()
                 for a in (start, length, scaled, offset, error))


def look(source: Sequence[np.ndarray] | np.ndarray, cut: Cut) -> list[np.ndarray]:
    """The output rows `cut` describes, of `source`, as Y, U, V arrays: views into the frame
    swscale made (they keep it alive), to be copied into the caller's frame.

    `source` is Y, U, V planes, or an (h, w, 3) RGB array (converted in the same swscale pass).
    """
    x0, y0, cw, ch = cut.crop
    if isinstance(source, np.ndarray):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(source[y0:y0 + ch, x0:x0 + cw]), format="rgb24")
    else:
        frame = frame_of([p[y0 // s:(y0 + ch) // s, x0 // s:(x0 + cw) // s] for p, s in zip(source, (1, 2, 2))])
    return cut_out(frame, cut)


def cut_out(frame: av.VideoFrame, cut: Cut) -> list[np.ndarray]:
    """`look` for a yuv420p `frame` that already is the source's crop `cut.crop`."""
    ox, oy = cut.offset
    n, w = cut.rows[1] - cut.rows[0], cut.width
    return [p[oy // s:oy // s + n // s, ox // s:ox // s + w // s]
            for p, s in zip(planes_of(scale(frame, cut.scaled)), (1, 2, 2))]
