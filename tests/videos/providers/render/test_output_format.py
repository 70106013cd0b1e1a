import numpy as np
import pytest
from PIL import Image

from videos.providers.render import RenderSpec, probe

from .helpers import assert_valid_mp4, decode, picture, psnr, render_to


def test_it_writes_an_h264_faststart_mp4_with_the_exact_frame_count(tmp_path):
    spec = RenderSpec(prompt="Rolling hills on a clear day", width=320, height=180, duration=1.5, frame_rate=24)
    result, paths = render_to(tmp_path, spec)
    assert (result.frames, result.width, result.height, result.frame_rate) == (36, 320, 180, 24)
    assert result.duration == 1.5
    assert_valid_mp4(paths["video"], frames=36, size=(320, 180))
    info = probe(str(paths["video"]))
    assert info["frames"] == 36 and info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"


def test_it_rounds_duration_times_frame_rate(tmp_path):
    spec = RenderSpec(prompt="ocean", width=160, height=96, duration=1.01, frame_rate=30)
    result, paths = render_to(tmp_path, spec)
    assert result.frames == 30
    assert_valid_mp4(paths["video"], frames=30, size=(160, 96))


def test_it_writes_a_jpeg_thumbnail_and_the_last_frame_as_png(tmp_path):
    spec = RenderSpec(prompt="A forest at night", width=320, height=180, duration=1.0, frame_rate=12)
    _, paths = render_to(tmp_path, spec)
    assert paths["thumbnail"].read_bytes()[:3] == b"\xff\xd8\xff"
    assert paths["last"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(paths["last"]).size == (320, 180)


@pytest.mark.parametrize("kind", ["t2v", "i2v", "kf2v"])
def test_the_stream_has_the_specs_size_and_timing_and_the_stills_are_its_frames(tmp_path, kind):
    head = picture((320, 180), disc_x=0.3, colour=(235, 200, 40)) if kind != "t2v" else None
    tail = picture((320, 180), disc_x=0.6, colour=(235, 120, 40)) if kind == "kf2v" else None
    spec = RenderSpec(prompt="A serene mountain landscape at sunset, pan right", width=320, height=180,
                      duration=2.0, frame_rate=12, head_image=head, tail_image=tail)
    _, paths = render_to(tmp_path, spec)
    info = probe(str(paths["video"]))
    assert (info["width"], info["height"], info["frames"], info["frame_rate"]) == (320, 180, 24, 12.0)
    assert info["duration"] == pytest.approx(2.0)
    frames, _ = decode(paths["video"])
    # The last-frame PNG is the last frame as made (lossless), the thumbnail the frame at 1 s (JPEG).
    assert psnr(np.asarray(Image.open(paths["last"])), frames[-1]) >= 35
    assert psnr(np.asarray(Image.open(paths["thumbnail"]).convert("RGB")), frames[12]) >= 30
    assert psnr(np.asarray(Image.open(paths["thumbnail"]).convert("RGB")), frames[2]) < 30  # not just any frame
