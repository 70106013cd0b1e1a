import numpy as np
import pytest
from PIL import Image

from videos.providers.render import RenderSpec, view
from videos.providers.render.camera import View
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


def exact_frame(source, index: int) -> list[np.ndarray]:
    """Frame `index` as PIL's exact box resamples of the picture's planes would make it: the
    background and the stronger-moving foreground, blended through the ramp."""
    move = source.move.view(index / (source.frames - 1), anchored=True)
    w, h = source.size

    def part(v, rows, plane, s):
        left, top, right, bottom = source._box(v)
        sy = (bottom - top) / h
        box = (left / s, (top + rows[0] * sy) / s, right / s, (top + rows[1] * sy) / s)
        return Image.fromarray(plane).resize((w // s, (rows[1] - rows[0]) // s), Image.Resampling.BILINEAR, box=box)

    out = []
    for i, plane in enumerate(source.planes):
        s = 1 + (i > 0)
        if source.move.kind == "zoom_out":
            out.append(np.asarray(part(move, (0, h), plane, s)))
            continue
        y0, y1 = source.y0, source.y1
        image = Image.new("L", (w // s, h // s))
        image.paste(part(View(1 + (move.scale - 1) * 1.35, move.ox, move.oy), (y0, h), plane, s), (0, y0 // s))
        back = part(move, (0, y1), plane, s)
        image.paste(back.crop((0, 0, w // s, y0 // s)), (0, 0))
        image.paste(back.crop((0, y0 // s, w // s, y1 // s)), (0, y0 // s), source.masks[i > 0])
        out.append(np.asarray(image))
    return out


@pytest.mark.parametrize("prompt", ["a calm scene", "slow zoom out", "pan left across the room", "tilt up"])
def test_the_frames_are_the_camera_moving_through_the_picture(prompt):
    """The pipeline encodes `video_frame`: the camera's boxes cut out and scaled by swscale
    (view.py). It must show what exact resamples of the same boxes show, every frame."""
    head = picture((640, 360), disc_x=0.4, colour=(230, 190, 40))
    spec = RenderSpec(prompt=prompt, width=640, height=360, duration=1.0, frame_rate=12, head_image=head)
    source = source_for(spec)
    for index in (1, 6, 11):
        got = view.planes_of(source.video_frame(index))
        # Luma 46-56 dB (a box one output pixel off: ~38). Chroma may sit half a chroma pixel off
        # where the cut's offset is odd (38-55 dB).
        for i, (a, b) in enumerate(zip(got, exact_frame(source, index), strict=True)):
            assert psnr(a, b) >= (44 if i == 0 else 36), (index, i)
