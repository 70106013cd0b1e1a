"""A vendor model rendered locally carries a "SIMULATED" label in its bottom-right corner, in every frame and
in the stills, and says so in the MP4's metadata; the label keeps renders reproducible."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from tests.factories import png_bytes
from tests.videos.providers.render.helpers import decode, render_to
from videos.providers.base import InputImage, Job
from videos.providers.local import SIMULATED_MARK, LocalProvider
from videos.providers.render import RenderSpec
from videos.providers.render.mark import Mark

SPECS = {
    "t2v": {"prompt": "A lighthouse on a cliff at dusk"},
    "i2v": {"prompt": "slow zoom in", "head_image": png_bytes(320, 180)},
    "kf2v": {"prompt": "morph", "head_image": png_bytes(320, 180), "tail_image": png_bytes(320, 180, (20, 60, 200))},
}


def _corner(frame: np.ndarray) -> np.ndarray:
    """Where the label goes: its own box, bottom-right."""
    h, w = frame.shape[:2]
    mark = Mark(SIMULATED_MARK, (w, h))
    assert mark.x > w / 2 and mark.y > h / 2
    return frame[mark.y:mark.y + mark.image.height, mark.x:mark.x + mark.image.width].astype(float)


def _rest(frame: np.ndarray) -> np.ndarray:
    return frame[: frame.shape[0] // 2].astype(float)


@pytest.mark.parametrize("kind", SPECS)
def test_every_frame_and_still_carries_the_mark(tmp_path, kind):
    base = dict(width=320, height=180, duration=1.0, frame_rate=12, seed=4, **SPECS[kind])
    (tmp_path / "plain").mkdir()
    (tmp_path / "marked").mkdir()
    _, plain = render_to(tmp_path / "plain", RenderSpec(**base))
    _, marked = render_to(tmp_path / "marked", RenderSpec(**base, mark=SIMULATED_MARK))
    plain_frames, _ = decode(plain["video"])
    marked_frames, _ = decode(marked["video"])
    assert len(plain_frames) == len(marked_frames) == 12
    for a, b in zip(plain_frames, marked_frames, strict=True):
        assert np.abs(_corner(a) - _corner(b)).mean() > 10  # the label is there, in every frame
        assert np.abs(_rest(a) - _rest(b)).mean() < 1.5  # and only in its corner
    for still in ("thumbnail", "last"):
        a = np.asarray(Image.open(plain[still]).convert("RGB"))
        b = np.asarray(Image.open(marked[still]).convert("RGB"))
        assert np.abs(_corner(a) - _corner(b)).mean() > 10 and np.abs(_rest(a) - _rest(b)).mean() < 1.5
    with av.open(str(marked["video"])) as container:
        assert container.metadata["comment"].startswith("SIMULATED")
    with av.open(str(plain["video"])) as container:
        assert "comment" not in container.metadata


def test_marked_renders_are_byte_identical(tmp_path):
    spec = RenderSpec(prompt="Waves at night", width=256, height=144, duration=1.0, frame_rate=12, seed=9,
                      mark=SIMULATED_MARK)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, a = render_to(tmp_path / "a", spec)
    _, b = render_to(tmp_path / "b", spec)
    assert a["video"].read_bytes() == b["video"].read_bytes()
    assert a["last"].read_bytes() == b["last"].read_bytes()


def test_the_local_provider_marks_vendor_models(tmp_path):
    job = Job(video_id="vid_x", prompt="A red kite", model_id="luma-ray-2.0-flash-5s-t2v", vendor_model="ray-flash-2",
              type="t2v", duration=1, resolution="180p", aspect_ratio="16:9", width=320, height=180, frame_rate=12,
              seed=1, head_image=InputImage(data=png_bytes(), content_type="image/png", width=320, height=180))
    result = LocalProvider().generate(job, str(tmp_path))
    with av.open(result.video_path) as container:
        assert "SIMULATED" in container.metadata["comment"]
