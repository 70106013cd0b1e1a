from videos.providers.render import RenderSpec, probe

from .helpers import assert_valid_mp4, render_to


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
    from PIL import Image

    assert Image.open(paths["last"]).size == (320, 180)
