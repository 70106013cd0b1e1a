"""The camera's view by swscale (view.py) and the 4:2:0 sprites (yuv.Sprite): the fast paths must
show what the slow, exact ones would."""

import numpy as np
import pytest
from PIL import Image

from videos.providers.render import view, yuv
from videos.providers.render.encode import to_yuv420p

from .helpers import psnr


def smooth_picture(size: tuple[int, int]) -> np.ndarray:
    """A photo-like RGB picture with detail at every scale but no pixel noise (an upscaled
    random grid): resampling it a fraction of a pixel off shows, noise would hide nothing else."""
    w, h = size
    rng = np.random.default_rng(3)
    grid = Image.fromarray(rng.integers(0, 255, (h // 12, w // 12, 3), dtype=np.uint8))
    return np.asarray(grid.resize((w, h), Image.Resampling.BICUBIC))


def planes_of_picture(rgb: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(p) for p in yuv.planes(Image.fromarray(rgb))]


def exact_view(planes: list[np.ndarray], box, size, rows) -> list[np.ndarray]:
    """PIL's resize of the box itself: sub-pixel exact, the reference."""
    w, h = size
    out = []
    for plane, k in zip(planes, (1, 2, 2), strict=True):
        left, top, right, bottom = box
        sy = (bottom - top) / h
        part = (left / k, (top + rows[0] * sy) / k, right / k, (top + rows[1] * sy) / k)
        out.append(np.asarray(Image.fromarray(plane).resize((w // k, (rows[1] - rows[0]) // k),
                                                             Image.Resampling.BILINEAR, box=part)))
    return out


def test_the_whole_picture_at_its_own_size_is_an_exact_copy():
    rgb = smooth_picture((320, 180))
    planes = planes_of_picture(rgb)
    [cut] = view.cuts([(0, 0, 320, 180)], (320, 180), (320, 180))
    assert (cut.crop, cut.scaled, cut.offset, cut.error) == ((0, 0, 320, 180), (320, 180), (0, 0), 0.0)
    for got, want in zip(view.look(planes, cut), planes, strict=True):
        assert np.array_equal(got, want)


def test_every_cut_lands_within_a_pixel_of_its_box():
    rng = np.random.default_rng(0)
    boxes = []
    for _ in range(500):
        scale = rng.uniform(0.5, 1.0)
        bw, bh = 640 * scale, 360 * scale
        left, top = rng.uniform(0, 800 - bw), rng.uniform(0, 450 - bh)
        boxes.append((left, top, left + bw, top + bh))
    for rows in (None, (0, 504), (324, 720)):
        cuts = view.cuts(boxes, (1280, 720), (800, 450), rows)
        assert max(cut.error for cut in cuts) <= 1.1
        assert np.median([cut.error for cut in cuts]) <= 0.5
        for cut in cuts:
            x, y, w, h = cut.crop
            assert x % 2 == y % 2 == w % 2 == h % 2 == 0  # chroma lines up with luma
            assert 0 <= x and x + w <= 800 and 0 <= y and y + h <= 450
            assert cut.offset[0] + 1280 <= cut.scaled[0]


@pytest.mark.parametrize(("box", "rows"), [
    ((40.3, 22.6, 600.1, 337.6), None),  # zoomed in 1.14x, off-centre
    ((0.0, 0.0, 640.0, 360.0), None),  # the base view
    ((12.7, 7.1, 540.2, 303.8), (0, 504)),  # the rows above a foreground
    ((30.9, 17.4, 590.6, 332.2), (324, 720)),  # and a foreground's own rows
])
def test_a_view_is_the_box_resampled(box, rows):
    """At 2x up (a T2V canvas to 1280x720), the swscale cut matches PIL's exact box resample."""
    planes = planes_of_picture(smooth_picture((640, 360)))
    [cut] = view.cuts([box], (1280, 720), (640, 360), rows)
    got = view.look(planes, cut)
    want = exact_view(planes, box, (1280, 720), rows or (0, 720))
    # Luma 50-55 dB here; the same box a whole output pixel off would be ~40 dB. Chroma is sited a
    # little differently by the two scalers (~42 dB at worst).
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a.shape == b.shape
        assert psnr(a, b) >= (47 if i == 0 else 39), i


def test_a_view_of_an_rgb_picture_is_converted_on_the_way():
    rgb = smooth_picture((640, 360))
    box = (40.3, 22.6, 600.1, 337.6)
    [cut] = view.cuts([box], (1280, 720), (640, 360))
    from_rgb = view.look(rgb, cut)
    from_planes = view.look(planes_of_picture(rgb), cut)
    for a, b in zip(from_rgb, from_planes, strict=True):
        assert psnr(a, b) >= 40


def rgba_blob(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A coloured shape with soft, partly transparent edges."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
    alpha = (np.clip((1 - d) * 4, 0, 1) * 255).astype(np.uint8)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 230, (xx * 255 // w).astype(np.uint8), 40
    return rgb, alpha


@pytest.mark.parametrize("at", [(40, 20), (41, 20), (40, 21), (41, 23), (-7, -3), (290, 150)])
def test_a_sprite_pasted_in_planes_is_the_rgb_paste_converted(at):
    """Pasting at odd and even positions, partly off the edge: chroma is worked out on the grid
    the sprite lands on, weighted by coverage, so no fringe appears."""
    background = smooth_picture((320, 180))
    rgb, alpha = rgba_blob((61, 47))
    composed = Image.fromarray(background)
    composed.paste(Image.fromarray(rgb), at, Image.fromarray(alpha))
    want = yuv.planes(composed)
    planes = yuv.planes(Image.fromarray(background))
    yuv.Sprite(rgb, alpha).paste(planes, *at)
    for i, (a, b) in enumerate(zip(planes, want, strict=True)):
        assert psnr(np.asarray(a), np.asarray(b)) >= 40, i


def test_a_sprite_blended_into_a_frame_touches_only_its_rectangle_and_fades():
    background = smooth_picture((320, 180))
    frame = to_yuv420p(background, (320, 180))
    before = [p.copy() for p in view.planes_of(frame)]
    rgb, alpha = rgba_blob((61, 47))
    yuv.Sprite(rgb, alpha).blend(view.planes_of(frame), 101, 51, opacity=0.5)
    after = view.planes_of(frame)
    changed = np.argwhere(after[0] != before[0])
    assert changed.size and changed.min(axis=0).tolist() >= [51, 101] and changed.max(axis=0).tolist() <= [97, 161]
    full = to_yuv420p(background, (320, 180))
    yuv.Sprite(rgb, alpha).blend(view.planes_of(full), 101, 51)
    centre = (slice(70, 78), slice(126, 136))  # opaque middle of the blob
    half = after[0][centre].astype(int)
    assert np.abs(half - (before[0][centre].astype(int) + view.planes_of(full)[0][centre]) / 2).max() <= 2
