import numpy as np
import pytest

from videos.providers.render import RenderSpec
from videos.providers.render.camera import move_from_prompt
from videos.providers.render.pipeline import source_for

from .helpers import decode, picture, render_to, shift

HEAD = picture((320, 180), disc_x=0.5, colour=(230, 190, 40))


@pytest.mark.parametrize(("prompt", "kind"), [
    ("slow zoom in on the house", "zoom_in"), ("the camera pulls back", "zoom_out"),
    ("pan left over the bay", "pan_left"), ("panning right", "pan_right"), ("tilt up to the sky", "tilt_up"),
    ("tilt down", "tilt_down"), ("orbit around the statue", "orbit_right"), ("static camera", "static"),
    ("dolly in", "zoom_in"), ("a quiet lake", "push_in"),
])
def test_it_reads_the_camera_move_from_the_prompt(prompt, kind):
    assert move_from_prompt(prompt).kind == kind


def total_shift(tmp_path, prompt, head=None):
    """Content shift across the clip, measured after the T2V caption (static on screen) is gone."""
    spec = RenderSpec(prompt=prompt, width=320, height=180, duration=2.0, frame_rate=12, head_image=head)
    _, paths = render_to(tmp_path, spec)
    frames, _ = decode(paths["video"])
    return shift(frames[13], frames[20])


@pytest.mark.parametrize("head", [None, HEAD], ids=["t2v", "i2v"])
def test_pan_left_and_pan_right_move_the_picture_opposite_ways(tmp_path, head):
    left = total_shift(tmp_path, "mountains at noon, pan left", head)
    right = total_shift(tmp_path, "mountains at noon, pan right", head)
    assert left[0] > 2 and right[0] < -2  # panning right slides the content left


@pytest.mark.parametrize("head", [None, HEAD], ids=["t2v", "i2v"])
def test_tilt_up_and_down_move_the_picture_opposite_ways(tmp_path, head):
    up = total_shift(tmp_path, "mountains at noon, tilt up", head)
    down = total_shift(tmp_path, "mountains at noon, tilt down", head)
    assert up[1] > 1 and down[1] < -1


def halves_spread(tmp_path, prompt):
    """Left-half motion minus right-half motion: < 0 when the picture expands (zoom in)."""
    spec = RenderSpec(prompt=prompt, width=320, height=180, duration=1.0, frame_rate=12, head_image=HEAD)
    _, paths = render_to(tmp_path, spec)
    frames, _ = decode(paths["video"])
    a, b = frames[1], frames[-1]
    left = shift(a[:, :160], b[:, :160])[0]
    right = shift(a[:, 160:], b[:, 160:])[0]
    return left - right


def test_zoom_in_expands_and_zoom_out_contracts(tmp_path):
    assert halves_spread(tmp_path, "zoom in") < -2
    assert halves_spread(tmp_path, "zoom out") > 2


@pytest.mark.parametrize("prompt", ["mountains at noon, clear sky, pan right", "a dense forest, pan left"])
def test_a_pan_slides_near_things_more_than_far_ones(prompt):
    """Parallax: on screen the sky hardly moves, distant ranges move less than the foreground."""
    spec = RenderSpec(prompt=prompt, width=640, height=360, duration=2.0, frame_rate=12)
    source = source_for(spec)
    a, b = np.asarray(source.frame(12)), np.asarray(source.frame(16))
    bands = (slice(0, 60), slice(150, 200), slice(300, 360))
    sky, far, near = (abs(shift(a[rows], b[rows])[0]) for rows in bands)
    assert sky + 5 < far and far + 5 < near, (sky, far, near)
