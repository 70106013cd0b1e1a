import pytest
from PIL import Image

from videos.providers.render import RenderSpec, probe, thumbnail_from_video

from .helpers import render_to


def test_probe_describes_a_rendered_video(tmp_path):
    _, paths = render_to(tmp_path, RenderSpec(prompt="snow", width=256, height=144, duration=1.0, frame_rate=30))
    info = probe(str(paths["video"]))
    assert info == {"width": 256, "height": 144, "frames": 30, "frame_rate": 30.0, "duration": 1.0,
                    "codec": "h264", "pix_fmt": "yuv420p"}


def test_thumbnail_from_video_writes_a_jpeg_of_the_first_second(tmp_path):
    _, paths = render_to(tmp_path, RenderSpec(prompt="forest", width=256, height=144, duration=2.0))
    target = tmp_path / "vendor-thumb.jpg"
    assert thumbnail_from_video(str(paths["video"]), str(target)) == (256, 144)
    assert Image.open(target).format == "JPEG"


@pytest.mark.parametrize("content", [b"", b"definitely not a video", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64])
def test_they_raise_value_error_for_non_videos(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(ValueError):
        probe(str(bad))
    with pytest.raises(ValueError):
        thumbnail_from_video(str(bad), str(tmp_path / "t.jpg"))


def test_probe_raises_value_error_for_a_missing_file(tmp_path):
    with pytest.raises(ValueError):
        probe(str(tmp_path / "missing.mp4"))
