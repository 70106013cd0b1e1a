"""H.264 encoding, probing and stills, all through PyAV (no system ffmpeg)."""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from .view import scale

# veryfast keeps a 720p clip well above real time on two cores; crf 20 keeps the first frame of an
# image-to-video clip within ~35-40 dB of its source, which the I2V contract relies on.
#
# bframes=0 is what makes the output reproducible. With B-frames, libx264's lookahead
# (macroblock-tree rate control over B-frame candidates) reads heap memory it never initialised:
# the same frames encode differently from run to run, even with one thread, and the first encode
# in a fresh process usually matches because fresh pages are zero. Proof: MALLOC_PERTURB_=N (any
# fixed fill) makes every run identical but different per N; bframes=0, mbtree=0 or
# rc-lookahead=0 each remove it. bframes=0 also encodes ~10% faster; files grow ~1.5x at crf 20.
# rc-lookahead 10 is veryfast's own value, pinned here because the lookahead holds that many
# full frames (memory at 1080p).
X264_OPTIONS = {"preset": "veryfast", "crf": "20", "x264-params": "bframes=0:rc-lookahead=10"}
# x264 frame threads each hold a frame in flight: two are enough for two cores and keep 1080p small.
X264_THREADS = 2


class VideoWriter:
    """Streams frames into an H.264 yuv420p MP4 with the moov atom first (faststart).

    Frames go straight to the encoder, so memory stays flat however long the clip is. `close()`
    flushes and finishes the file; `abort()` drops it (for cancellation and errors).
    """

    def __init__(self, path: str, width: int, height: int, frame_rate: int,
                 metadata: dict[str, str] | None = None) -> None:
        self.path = path
        self.size = (width, height)
        self.frames = 0
        self._container = av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"})
        for key, value in (metadata or {}).items():  # container tags (udta), e.g. comment
            self._container.metadata[key] = value
        stream = self._container.add_stream("libx264", rate=frame_rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = dict(X264_OPTIONS)
        stream.thread_count = X264_THREADS
        # Frame threads: ~40% faster than PyAV's default slice threads here. The time base is left
        # to PyAV (1/rate); timestamps are the frame index.
        stream.thread_type = "FRAME"
        self._stream = stream

    def prepare(self, frame: np.ndarray | Image.Image | av.VideoFrame) -> av.VideoFrame:
        """The YUV 4:2:0 frame the encoder takes, from an H×W×3 uint8 RGB array or RGB PIL image.

        A frame of another size is scaled bilinearly by swscale in the same pass that converts it.
        (The renderer's sources make yuv420p frames themselves; this is for RGB callers.)
        """
        if isinstance(frame, av.VideoFrame):
            return frame
        return to_yuv420p(np.asarray(frame), self.size)

    def write(self, frame: np.ndarray | Image.Image | av.VideoFrame) -> None:
        """Encode one frame (see `prepare`; or one it returned) at the next timestamp."""
        video_frame = self.prepare(frame)
        video_frame.pts = self.frames
        self._container.mux(self._stream.encode(video_frame))
        self.frames += 1

    def close(self) -> None:
        """Flush delayed frames and write the trailer (moved to the front by faststart)."""
        self._container.mux(self._stream.encode(None))
        self._container.close()

    def abort(self) -> None:
        """Close without flushing and delete the partial file; safe to call more than once."""
        with contextlib.suppress(Exception):
            self._container.close()
        remove_quietly(self.path)


def to_yuv420p(rgb: np.ndarray, size: tuple[int, int]) -> av.VideoFrame:
    """An H×W×3 uint8 RGB array as a yuv420p frame of `size`, scaled bilinearly by swscale on the way.

    Through this thread's swscale context (view.scale), kept between calls of the same sizes."""
    return scale(av.VideoFrame.from_ndarray(rgb, format="rgb24"), size)


def remove_quietly(*paths: str) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def save_thumbnail(image: Image.Image, path: str) -> None:
    """JPEG poster image; written via a temporary name so readers never see half a file."""
    _save_atomically(path, lambda tmp: image.convert("RGB").save(tmp, format="JPEG", quality=85))


def save_png(image: Image.Image, path: str) -> None:
    """Lossless still (the last frame, used to chain the next clip): 8-bit RGB, every row "up"
    filtered (its difference from the row above, in numpy) and deflated by zlib with the RLE
    strategy, which only looks for runs: about 60% of libavcodec's level-1 time on a photo (Pillow
    tries every row filter and is slower still) for files ~5% larger. Any PNG reader decodes it."""
    _save_atomically(path, lambda tmp: Path(tmp).write_bytes(png_bytes(np.asarray(image.convert("RGB")))))


def png_bytes(rgb: np.ndarray) -> bytes:
    """An (h, w, 3) uint8 array as a PNG file's bytes (see save_png)."""
    h, w, _ = rgb.shape
    rows = np.empty((h, 1 + 3 * w), np.uint8)
    rows[:, 0] = 2  # filter type "up"
    flat = rgb.reshape(h, 3 * w)
    rows[0, 1:] = flat[0]  # the row above the first is zeros
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])  # modulo 256, as PNG wants
    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    data = deflate.compress(rows.data) + deflate.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _save_atomically(path: str, write: Callable[[str], None]) -> None:
    tmp = f"{path}.part"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        remove_quietly(tmp)


def probe(video_path: str) -> dict:
    """Describe a video file by decoding it: width, height, frames, frame_rate, duration, codec, pix_fmt.

    `frames` is counted by decoding (container metadata can lie). Raises ValueError if the file is
    missing, not a container, or has no decodable video stream.
    """
    try:
        with av.open(video_path) as container:
            if not container.streams.video:
                raise ValueError(f"{video_path}: no video stream")
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            if frames == 0:
                raise ValueError(f"{video_path}: no decodable frames")
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            ctx = stream.codec_context
            return {
                "width": ctx.width,
                "height": ctx.height,
                "frames": frames,
                "frame_rate": float(rate),
                "duration": frames / float(rate) if rate else 0.0,
                "codec": ctx.name,
                "pix_fmt": ctx.pix_fmt,
            }
    except (av.FFmpegError, OSError) as e:
        raise ValueError(f"{video_path}: not a decodable video ({e})") from e


def thumbnail_from_video(video_path: str, thumbnail_path: str) -> tuple[int, int]:
    """Write a JPEG of the frame nearest one second in (or the last frame of a shorter clip).

    Returns the thumbnail's (width, height). Raises ValueError if the video cannot be decoded.
    """
    chosen: av.VideoFrame | None = None
    try:
        with av.open(video_path) as container:
            if not container.streams.video:
                raise ValueError(f"{video_path}: no video stream")
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is not None and frame.time >= 1.0:
                    break
    except (av.FFmpegError, OSError) as e:
        raise ValueError(f"{video_path}: not a decodable video ({e})") from e
    if chosen is None:
        raise ValueError(f"{video_path}: no decodable frames")
    image = chosen.to_image()
    save_thumbnail(image, thumbnail_path)
    return image.size
