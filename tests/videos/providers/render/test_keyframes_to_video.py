import av
import numpy as np

from videos.providers.render import RenderSpec
from videos.providers.render.images import fitted
from videos.providers.render.pipeline import source_for

from .helpers import assert_valid_mp4, picture, psnr, render_to

HEAD = picture((320, 180), disc_x=0.3, colour=(235, 200, 40))
TAIL = picture((320, 180), disc_x=0.6, colour=(235, 120, 40))


def render_pair(tmp_path):
    spec = RenderSpec(prompt="the ball rolls", width=320, height=180, duration=1.0, frame_rate=24,
                      head_image=HEAD, tail_image=TAIL)
    _, paths = render_to(tmp_path, spec)
    return assert_valid_mp4(paths["video"], frames=24, size=(320, 180))


def test_it_starts_on_the_head_and_ends_on_the_tail(tmp_path):
    frames = render_pair(tmp_path)
    assert psnr(frames[0], np.asarray(fitted(HEAD, (320, 180)))) >= 30
    assert psnr(frames[-1], np.asarray(fitted(TAIL, (320, 180)))) >= 30


def test_its_middle_is_a_motion_not_a_cross_fade(tmp_path):
    frames = render_pair(tmp_path)
    head, tail = (np.asarray(fitted(x, (320, 180)), np.float64) for x in (HEAD, TAIL))
    fade = 0.5 * (head + tail)
    mid = frames[len(frames) // 2].astype(np.float64)
    assert np.abs(mid - fade).mean() > 4  # a cross-fade would be ~1 (codec noise)
    # The disc travels: the middle frame has it between its two end positions, not at both.
    column_yellow = (mid[:, :, 0] > 180) & (mid[:, :, 2] < 110)
    xs = np.nonzero(column_yellow.any(axis=0))[0]
    assert xs.size and 0.3 * 320 < xs.mean() < 0.6 * 320


def ball_rolls_at_360p() -> RenderSpec:
    """At 640x360 the moving cells are warped at half size, unlike at 320x180."""
    head = picture((640, 360), disc_x=0.3, colour=(235, 200, 40))
    tail = picture((640, 360), disc_x=0.6, colour=(235, 120, 40))
    return RenderSpec(prompt="the ball rolls", width=640, height=360, duration=1.0, frame_rate=24,
                      head_image=head, tail_image=tail)


def test_the_warped_area_blends_in_without_holes():
    """At 640x360 moving cells are warped at half size and feathered in over the dissolve: nothing
    outside them may show the warp's empty (black) background. The pictures never go below ~40."""
    spec = ball_rolls_at_360p()
    source = source_for(spec)
    for index in range(24):
        frame = np.asarray(source.frame(index))
        assert frame.max(axis=2).min() > 30, index


def test_the_encoded_frames_are_the_rgb_frames_and_have_no_holes(tmp_path):
    """The pipeline encodes `video_frame` (the morph assembled in YUV); it must be the picture
    `frame` draws, and the decoded video must not show the overlay's black background anywhere."""
    spec = ball_rolls_at_360p()
    source = source_for(spec)
    for index in (0, 6, 12, 18, 23):
        expected = av.VideoFrame.from_image(source.frame(index)).reformat(format="yuv420p").to_ndarray()
        assert psnr(source.video_frame(index).to_ndarray(), expected) >= 45, index
    _, paths = render_to(tmp_path, spec)
    for index, frame in enumerate(assert_valid_mp4(paths["video"], frames=24, size=(640, 360))):
        assert frame.max(axis=2).min() > 25, index
