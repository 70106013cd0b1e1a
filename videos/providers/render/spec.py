"""What the renderer is asked for and what it reports back (pure data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

STRATEGIES = ("cinematic", "realistic", "animated", "artistic")

# width:height of each supported aspect ratio; the short side is the resolution ("720p").
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
}


@dataclass(frozen=True)
class RenderSpec:
    """One clip to render.

    `head_image` alone makes an image-to-video clip whose first frame is that image; with `tail_image`
    too, a keyframe-to-video clip that ends on the tail. Neither: text-to-video from `prompt`.
    """

    prompt: str
    width: int  # even, final output size
    height: int  # even
    duration: float  # seconds
    frame_rate: int = 24  # 12..60
    seed: int = 0
    strategy: str | None = None  # cinematic | realistic | animated | artistic
    head_image: bytes | None = None  # encoded JPEG/PNG/WEBP: I2V first frame / KF2V head
    tail_image: bytes | None = None  # KF2V last frame
    mark: str | None = None  # e.g. "SIMULATED": burned into a corner of every frame, and noted in the MP4

    @property
    def frames(self) -> int:
        """Exact number of frames in the output: round(duration × frame_rate), at least 1."""
        return max(1, round(self.duration * self.frame_rate))

    def validate(self) -> None:
        """Raise ValueError naming the first field the renderer cannot honour."""
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise ValueError(f"width/height must be even and >= 16, got {self.width}x{self.height}")
        if self.width * self.height > 4096 * 4096:
            raise ValueError("width x height too large")
        if not 12 <= self.frame_rate <= 60:
            raise ValueError(f"frame_rate must be 12..60, got {self.frame_rate}")
        if not 0 < self.duration <= 120:
            raise ValueError(f"duration must be in (0, 120] seconds, got {self.duration}")
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.tail_image is not None and self.head_image is None:
            raise ValueError("tail_image needs head_image")


@dataclass
class RenderResult:
    frames: int
    width: int
    height: int
    frame_rate: int
    duration: float  # frames / frame_rate, the real length of the file


class RenderCancelled(Exception):
    """The caller's `cancelled()` returned True; partial output files have been removed."""


def dimensions_for(resolution_p: int, aspect_ratio: str) -> tuple[int, int]:
    """(width, height) for e.g. 720 and "16:9": the short side is `resolution_p`, both even.

    Raises ValueError for an unknown aspect ratio or a non-positive resolution.
    """
    if aspect_ratio not in ASPECT_RATIOS:
        raise ValueError(f"unknown aspect ratio {aspect_ratio!r}")
    if resolution_p <= 0:
        raise ValueError(f"resolution must be positive, got {resolution_p}")
    aw, ah = ASPECT_RATIOS[aspect_ratio]
    short = resolution_p - resolution_p % 2
    long = 2 * round(short * max(aw, ah) / min(aw, ah) / 2)  # nearest even: 480p 16:9 -> 854
    return (long, short) if aw >= ah else (short, long)
