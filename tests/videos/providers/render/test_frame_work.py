"""The renderer's shortcuts (composing only what changes, recycled frames, cheaper scene maths, our
own PNG writer) must not change what a user sees: each is checked against the direct way."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from videos.providers.render import RenderSpec, view
from videos.providers.render.camera import move_from_prompt
from videos.providers.render.encode import save_png
from videos.providers.render.palette import theme_from_prompt
from videos.providers.render.pipeline import source_for
from videos.providers.render.terrain import mix, sky

from .helpers import decode, picture, psnr, render_to

SUNSET = "A serene mountain landscape at sunset with clouds moving"


@pytest.mark.parametrize("prompt", [SUNSET, "slow zoom over rolling hills at noon", "tilt up over a forest at dawn"])
def test_still_layer_frames_composed_over_the_camera_box_are_the_full_composition(prompt):
    spec = RenderSpec(prompt=prompt, width=640, height=360, duration=2.0, frame_rate=12)
    scene = source_for(spec).scene
    assert scene.boxed and all(scene.offsets[i] in scene.still for i in range(spec.frames))
    for index in (0, 7, spec.frames - 1):
        fast = [p.copy() for p in view.planes_of(scene.video_frame(index))]
        scene.boxed = False
        full = view.planes_of(scene.video_frame(index))
        scene.boxed = True
        for got, want in zip(fast, full, strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_panning_camera_still_composes_the_whole_canvas():
    spec = RenderSpec(prompt="desert dunes, pan left", width=640, height=360, duration=2.0, frame_rate=12)
    scene = source_for(spec).scene
    assert move_from_prompt(spec.prompt).kind.startswith("pan")
    assert not any(scene.offsets[i] in scene.still for i in range(1, spec.frames))  # layers slide: no shortcut


def _sky_per_pixel(theme, size, horizon, sun):
    """The sky as first written: the halo and disc worked out at every pixel."""
    w, h = size
    light = theme.light
    y = np.clip(np.arange(h, dtype=np.float32)[:, None] / max(horizon, 1), 0, 1)[..., None]
    smooth = lambda e0, e1, x: (lambda t: t * t * (3 - 2 * t))(np.clip((x - e0) / (e1 - e0), 0, 1))  # noqa: E731
    upper = np.float32(light.sky_top) * (1 - smooth(0, 0.6, y)) + np.float32(light.sky_mid) * smooth(0, 0.6, y)
    t = smooth(0.45, 1.0, y)
    rgb = np.broadcast_to(upper * (1 - t) + np.float32(light.horizon) * t, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xx - sun[0], (yy - sun[1]) * 1.15) / h
    r = light.sun_size
    halo = light.glow * (0.55 * np.exp(-(d / (r * 4)) ** 2) + 0.45 * np.exp(-(d / (r * 14)) ** 2))
    rgb += halo[..., None] * np.float32(light.sun) * 0.8
    disc = smooth(r, r * 0.85, d)[..., None]
    return np.clip(rgb * (1 - disc) + np.float32(light.sun) * disc, 0, 1)


@pytest.mark.parametrize("prompt", [SUNSET, "a city at night", "desert at noon"])
def test_the_sky_with_a_separable_halo_is_the_per_pixel_sky(prompt):
    theme = theme_from_prompt(prompt, 3)
    for sun in ((150.0, 40.0), (-10.0, -20.0)):
        np.testing.assert_allclose(sky(theme, (320, 180), 100, sun), _sky_per_pixel(theme, (320, 180), 100, sun),
                                   atol=1e-5)


def test_mixing_two_colours_over_a_map_is_the_formula():
    t = np.random.default_rng(0).random((5, 7, 1), dtype=np.float32)
    a, b = (0.1, 0.5, 0.9), (0.8, 0.2, 0.3)
    want = np.float32(a) * (1 - t) + np.float32(b) * t
    got = mix(a, b, t)
    assert got.shape == (5, 7, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_the_last_frame_png_holds_exactly_the_pixels(tmp_path):
    rng = np.random.default_rng(1)
    for shape in ((1, 1, 3), (7, 5, 3), (90, 160, 3)):
        rgb = rng.integers(0, 256, shape, dtype=np.uint8)
        save_png(Image.fromarray(rgb), str(tmp_path / "x.png"))
        with Image.open(tmp_path / "x.png") as back:
            assert back.format == "PNG" and back.mode == "RGB"
            np.testing.assert_array_equal(np.asarray(back), rgb)
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("kind", ["t2v", "i2v"])
def test_recycled_frames_still_encode_each_frame_as_made(tmp_path, kind):
    """Output frames go back to a pool once encoded and are filled again: the video must still
    show, frame by frame, what the source made (no frame overwritten before libx264 took it)."""
    head = picture((320, 180), disc_x=0.4, colour=(230, 190, 60)) if kind == "i2v" else None
    spec = RenderSpec(prompt="slow push in", width=320, height=180, duration=2.0, frame_rate=12, head_image=head)
    render_to(tmp_path, spec)
    frames, _ = decode(tmp_path / "out.mp4")
    source = source_for(spec)
    assert len(frames) == spec.frames
    for index, got in enumerate(frames):
        want = np.asarray(view.to_image(source.video_frame(index)))
        assert psnr(got, want) >= 34, index
    assert psnr(frames[0], frames[-1]) < 30  # the camera moved: frames are not all alike
    assert view.frames._idle == {}  # nothing kept once the render is over
