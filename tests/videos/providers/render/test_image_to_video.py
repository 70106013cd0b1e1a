import av
import numpy as np
import pytest

from videos.providers.render import RenderSpec
from videos.providers.render.images import fitted
from videos.providers.render.pipeline import source_for

from .helpers import assert_valid_mp4, picture, psnr, render_to


@pytest.mark.parametrize("prompt", ["a calm scene", "slow zoom out", "pan left across the room"])
def test_its_first_frame_is_the_cover_cropped_image(tmp_path, prompt):
    head = picture((400, 300), disc_x=0.4, colour=(230, 190, 40))  # 4:3 into 16:9: cropped, not barred
    spec = RenderSpec(prompt=prompt, width=320, height=180, duration=1.0, frame_rate=24, head_image=head)
    _, paths = render_to(tmp_path, spec)
    frames = assert_valid_mp4(paths["video"], frames=24, size=(320, 180))
    expected = np.asarray(fitted(head, (320, 180)))
    assert psnr(frames[0], expected) >= 30
    assert frames[0][:, :4].mean() > 40 and frames[0][:, -4:].mean() > 40  # no black bars


def test_it_moves_instead_of_holding_a_still(tmp_path):
    head = picture((320, 180), disc_x=0.5, colour=(200, 60, 60), fmt="JPEG")
    spec = RenderSpec(prompt="a portrait", width=320, height=180, duration=1.0, frame_rate=12, head_image=head)
    _, paths = render_to(tmp_path, spec)
    frames = assert_valid_mp4(paths["video"], frames=12, size=(320, 180))
    assert psnr(frames[0], frames[-1]) < 30


def test_it_rejects_bytes_that_are_not_an_image(tmp_path):
    spec = RenderSpec(prompt="x", width=320, height=180, duration=1.0, head_image=b"not an image")
    with pytest.raises(ValueError):
        render_to(tmp_path, spec)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("prompt", ["a calm scene", "slow zoom out", "pan left across the room", "tilt up"])
def test_the_encoded_frames_are_the_rgb_frames(prompt):
    """The pipeline encodes `video_frame` (the camera move run on the picture's YUV planes): it
    must be the picture `frame` draws, once that is converted as the writer would."""
    head = picture((640, 360), disc_x=0.4, colour=(230, 190, 40))
    spec = RenderSpec(prompt=prompt, width=640, height=360, duration=1.0, frame_rate=12, head_image=head)
    source = source_for(spec)
    for index in (0, 1, 6, 11):
        expected = av.VideoFrame.from_image(source.frame(index)).reformat(format="yuv420p").to_ndarray()
        assert psnr(source.video_frame(index).to_ndarray(), expected) >= 45, index
