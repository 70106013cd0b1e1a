"""Shared helpers for the renderer tests: render to a temp dir, decode, compare, measure motion."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from videos.providers.render import RenderResult, RenderSpec, render


def render_to(tmp_path: Path, spec: RenderSpec, **kwargs) -> tuple[RenderResult, dict[str, Path]]:
    paths = {"video": tmp_path / "out.mp4", "thumbnail": tmp_path / "thumb.jpg", "last": tmp_path / "last.png"}
    result = render(spec, video_path=str(paths["video"]), thumbnail_path=str(paths["thumbnail"]),
                    last_frame_path=str(paths["last"]), **kwargs)
    return result, paths


def decode(path: Path) -> tuple[list[np.ndarray], av.video.stream.VideoStream]:
    """All frames as RGB arrays, plus the stream (its codec context is still readable)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, stream


def assert_valid_mp4(path: Path, *, frames: int, size: tuple[int, int]) -> list[np.ndarray]:
    decoded, stream = decode(path)
    assert len(decoded) == frames
    assert decoded[0].shape == (size[1], size[0], 3)
    assert stream.codec_context.name == "h264"
    assert stream.codec_context.pix_fmt == "yuv420p"
    data = path.read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat"), "moov must come first (faststart)"
    return decoded


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def picture(size: tuple[int, int], *, disc_x: float, colour: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    """A photo-like test image: soft textured gradient, a disc at `disc_x` (0..1), a fixed bar."""
    w, h = size
    rng = np.random.default_rng(7)
    texture = Image.fromarray(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    ramp = np.linspace(60, 160, w, dtype=np.float32)[None, :, None]
    base = (ramp * 0.7 + np.asarray(texture, np.float32) * 0.3).astype(np.uint8)
    image = Image.fromarray(base)
    draw = ImageDraw.Draw(image)
    r = h // 5
    cx, cy = int(disc_x * w), h // 2
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    draw.rectangle((w // 2 - w // 10, h // 12, w // 2 + w // 10, h // 6), fill=(30, 190, 90))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(dx, dy) that content moved from frame a to frame b, by phase correlation on grey levels."""
    ga, gb = (np.asarray(x, np.float64).mean(axis=2) for x in (a, b))
    window = np.outer(np.hanning(ga.shape[0]), np.hanning(ga.shape[1]))
    fa, fb = np.fft.fft2((ga - ga.mean()) * window), np.fft.fft2((gb - gb.mean()) * window)
    cross = fb * np.conj(fa)
    corr = np.fft.ifft2(cross / (np.abs(cross) + 1e-9)).real
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    h, w = corr.shape
    return (dx - w if dx > w // 2 else dx), (dy - h if dy > h // 2 else dy)
