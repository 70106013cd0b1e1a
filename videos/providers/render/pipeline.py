"""render(): pick the frame source for a spec, then produce, encode and report progress.

Every source makes its frames straight in the encoder's yuv420p (no per-frame RGB conversion);
they are made two at a time by worker threads and encoded in the calling thread through a short
queue: most PIL, numpy, swscale and libx264 work releases the GIL, so synthesis and encoding
overlap on two cores while memory stays at a few frames whatever the clip length. The stills
(thumbnail, last frame) are those frames converted to RGB: exactly what was encoded.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import av
from PIL import Image

from . import images, view
from .camera import move_from_prompt
from .encode import VideoWriter, remove_quietly, save_png, save_thumbnail
from .mark import Mark
from .morph import Morph
from .palette import theme_from_prompt
from .scene import Scene
from .spec import RenderCancelled, RenderResult, RenderSpec
from .still import StillMotion
from .text import Caption

_QUEUE_DEPTH = 2  # frames in flight between the producer and the encoder (memory at 1080p)
_WORKERS = 2  # frames made at once
_PROGRESS_INTERVAL = 0.1  # seconds: at most ~10 progress calls per second
_POLL = 0.05  # seconds between cancellation checks while waiting for a frame


class FrameSource(Protocol):
    def video_frame(self, index: int) -> av.VideoFrame:
        """Frame `index` in yuv420p at the output size, a new frame each call (it is marked in place)."""

    def frame(self, index: int) -> Image.Image:
        """The same frame as RGB (for inspection; the pipeline converts `video_frame`'s)."""


def source_for(spec: RenderSpec) -> FrameSource:
    """The frame source a spec calls for: KF2V morph, I2V camera move, or T2V scene."""
    size = (spec.width, spec.height)
    if spec.head_image is not None and spec.tail_image is not None:
        return Morph(images.fitted(spec.head_image, size), images.fitted(spec.tail_image, size), spec.frames)
    move = move_from_prompt(spec.prompt)
    if spec.head_image is not None:
        return StillMotion(images.fitted(spec.head_image, size), move, spec.frames)
    return _Captioned(Scene(theme_from_prompt(spec.prompt, spec.seed), size, spec.frames, spec.frame_rate,
                            move, spec.strategy), Caption(spec.prompt, size), spec.frame_rate)


class _Captioned:
    def __init__(self, scene: Scene, caption: Caption, frame_rate: int) -> None:
        self.scene, self.caption, self.frame_rate = scene, caption, frame_rate

    def video_frame(self, index: int) -> av.VideoFrame:
        frame = self.scene.video_frame(index)
        self.caption.draw(view.planes_of(frame), index / self.frame_rate)  # at the output's resolution
        return frame

    def frame(self, index: int) -> Image.Image:
        return view.to_image(self.video_frame(index))


class _Producer(threading.Thread):
    """Produces every frame into a bounded queue as (yuv420p frame, RGB image or None); the RGB
    one only for the indices in `stills`. Errors travel through the queue too."""

    def __init__(self, source: FrameSource, frames: int, stills: set[int], mark: Mark | None = None) -> None:
        super().__init__(daemon=True, name="render-producer")
        self.source, self.frames, self.stills, self.mark = source, frames, stills, mark
        self.queue: queue.Queue[tuple[av.VideoFrame, Image.Image | None] | BaseException] = queue.Queue(_QUEUE_DEPTH)
        self.stop = threading.Event()

    def run(self) -> None:
        # Frames are independent: two are made at a time, so the cores the encoder leaves idle
        # (while it waits for a frame, or between its own threads' work) do the next one.
        pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="render-frame")
        try:
            pending: deque[Future] = deque()
            for index in range(self.frames):
                pending.append(pool.submit(self._make, index))
                if len(pending) >= _WORKERS and not self._put(pending.popleft().result()):
                    return
            while pending:
                if not self._put(pending.popleft().result()):
                    return
        except BaseException as e:  # re-raised in the encoding thread
            self.queue.put(e)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _make(self, index: int) -> tuple[av.VideoFrame, Image.Image | None]:
        frame = self.source.video_frame(index)
        if self.mark is not None:  # after the frame exists, whichever way the source made it
            self.mark.on_frame(frame)
        return frame, view.to_image(frame) if index in self.stills else None

    def _put(self, item: tuple[av.VideoFrame, Image.Image | None]) -> bool:
        """Queue `item`, waiting for room; False once told to stop."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False


class _Progress:
    """Throttled progress: 0 first, then at most every _PROGRESS_INTERVAL, 100 only at the end."""

    def __init__(self, callback: Callable[[int], None] | None) -> None:
        self.callback, self.last, self.sent = callback, 0.0, -1

    def __call__(self, percent: int, *, force: bool = False) -> None:
        if self.callback is None or percent <= self.sent:
            return
        now = time.monotonic()
        if force or now - self.last >= _PROGRESS_INTERVAL:
            self.callback(percent)
            self.last, self.sent = now, percent


def render(spec: RenderSpec, *, video_path: str, thumbnail_path: str, last_frame_path: str,
           progress: Callable[[int], None] | None = None,
           cancelled: Callable[[], bool] | None = None) -> RenderResult:
    """Render `spec` to an H.264 MP4 (faststart), a JPEG thumbnail (~1 s in) and a PNG of the last frame.

    `progress` gets 0..100 (throttled, ending with exactly 100 once all files exist). `cancelled` is
    polled between frames and while waiting; when it returns True, RenderCancelled is raised within
    a fraction of a second and any partial files are removed. Invalid specs or undecodable images
    raise ValueError before anything is written.
    """
    spec.validate()
    report = _Progress(progress)
    report(0, force=True)
    is_cancelled = cancelled or (lambda: False)
    total = spec.frames
    source = source_for(spec)
    thumb_index = min(total - 1, spec.frame_rate)  # one second in: past the caption, into the motion
    mark = Mark(spec.mark, (spec.width, spec.height)) if spec.mark else None
    metadata = {"comment": f"{spec.mark}: made by the local renderer, not by the vendor"} if spec.mark else None
    writer = VideoWriter(video_path, spec.width, spec.height, spec.frame_rate, metadata=metadata)
    producer = _Producer(source, total, {thumb_index, total - 1}, mark)
    producer.start()
    try:
        last: Image.Image | None = None
        for index in range(total):
            item, full = _next(producer, is_cancelled)
            writer.write(item)  # libx264 has copied the picture: the frame can be filled again
            view.frames.give(item)
            if index == thumb_index:
                save_thumbnail(full, thumbnail_path)
            if full is not None:
                last = full
            if is_cancelled():
                raise RenderCancelled()
            report((index + 1) * 99 // total)
        writer.close()
        assert last is not None
        save_png(last, last_frame_path)
    except BaseException:
        producer.stop.set()
        writer.abort()
        remove_quietly(thumbnail_path, last_frame_path)
        raise
    finally:
        producer.stop.set()
        producer.join(timeout=2)
        view.frames.clear()  # no idle frames kept between renders
    report(100, force=True)
    return RenderResult(frames=total, width=spec.width, height=spec.height, frame_rate=spec.frame_rate,
                        duration=total / spec.frame_rate)


def _next(producer: _Producer, is_cancelled: Callable[[], bool]) -> tuple[av.VideoFrame, Image.Image | None]:
    """The next produced frame, checking for cancellation while waiting for it."""
    while True:
        if is_cancelled():
            raise RenderCancelled()
        try:
            item = producer.queue.get(timeout=_POLL)
        except queue.Empty:
            continue
        if isinstance(item, BaseException):
            raise item
        return item
