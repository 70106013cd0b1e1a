import numpy as np
import pytest

from videos.providers.render import RenderSpec, view
from videos.providers.render.encode import to_yuv420p
from videos.providers.render.palette import theme_from_prompt
from videos.providers.render.pipeline import source_for

from .helpers import assert_valid_mp4, psnr, render_to

SUNSET = "A serene mountain landscape at sunset with clouds moving"


def frames_of(tmp_path, name, **kwargs):
    spec = RenderSpec(**{"prompt": SUNSET, "width": 320, "height": 180, "duration": 1.0, "frame_rate": 12,
                         **kwargs})
    (tmp_path / name).mkdir()
    _, paths = render_to(tmp_path / name, spec)
    return assert_valid_mp4(paths["video"], frames=spec.frames, size=(320, 180))


def test_the_same_spec_and_seed_give_identical_frames(tmp_path):
    spec = RenderSpec(prompt=SUNSET, width=320, height=180, duration=1.0, frame_rate=12, seed=5)
    one, two = source_for(spec), source_for(spec)
    assert all(np.array_equal(np.asarray(one.frame(i)), np.asarray(two.frame(i))) for i in range(12))
    a, b = frames_of(tmp_path, "a", seed=5), frames_of(tmp_path, "b", seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_another_seed_gives_another_scene(tmp_path):
    a, b = frames_of(tmp_path, "a", seed=1), frames_of(tmp_path, "b", seed=2)
    assert np.abs(a[-1].astype(int) - b[-1].astype(int)).mean() > 5


def test_the_scene_moves(tmp_path):
    frames = frames_of(tmp_path, "a", prompt="ocean waves, static camera")
    assert np.abs(frames[11].astype(int) - frames[3].astype(int)).mean() > 2


def test_strategies_change_the_look(tmp_path):
    looks = {s: frames_of(tmp_path, str(s), strategy=s)[-1].astype(int)
             for s in (None, "cinematic", "realistic", "animated", "artistic")}
    plain = looks.pop(None)
    for strategy, frame in looks.items():
        assert np.abs(frame - plain).mean() > 3, strategy
    assert looks["cinematic"][:10].max() < 20 and looks["cinematic"][-10:].max() < 20  # letterbox bars
    # Animated: flat colour areas, so a few grey levels cover much more of the picture.
    def top_levels(frame):
        counts = np.bincount((frame.mean(axis=2) // 2).astype(int).ravel())
        return np.sort(counts)[-8:].sum() / counts.sum()

    assert top_levels(looks["animated"]) > top_levels(plain) + 0.1


def test_time_of_day_sets_the_colours(tmp_path):
    sunset = frames_of(tmp_path, "sunset")[6].astype(float)
    night = frames_of(tmp_path, "night", prompt="mountains at night under the stars")[6].astype(float)
    sky = slice(0, 60)
    assert sunset[sky, :, 0].mean() > sunset[sky, :, 2].mean()  # warm sky
    assert night[sky].mean() < 60 < sunset[sky].mean()


def test_the_prompt_is_captioned_during_the_first_second_only(tmp_path):
    frames = frames_of(tmp_path, "a", prompt="desert dunes, static camera", duration=2.0)
    caption = (slice(110, 165), slice(5, 200))
    first = frames[0][caption].astype(int)
    later = frames[20][caption].astype(int)
    assert (first > 230).sum() > 50  # white glyphs
    assert (later > 230).sum() < (first > 230).sum() / 4


def test_it_reads_settings_and_weather_from_words():
    theme = theme_from_prompt("A neon city street at night, rain", 0)
    assert (theme.time, theme.setting, theme.neon, theme.particles) == ("night", "city", True, "rain")
    assert theme_from_prompt("Aerial view of ocean waves", 0).aerial
    assert theme_from_prompt("pine forest at dawn", 0).setting == "forest"


def test_lakes_rivers_and_boats_are_water():
    for prompt in ("A paper boat drifting on a calm lake at golden hour", "a river at dawn", "sailing by the sea"):
        assert theme_from_prompt(prompt, 0).setting == "ocean", prompt
    assert theme_from_prompt("A calm lake at golden hour", 0).calm  # a gentle swell, not breakers
    assert not theme_from_prompt("Aerial view of ocean waves", 0).calm


def test_a_lake_shows_moving_water_below_its_far_shore(tmp_path):
    frames = frames_of(tmp_path, "a", prompt="A paper boat drifting on a calm lake at golden hour, static camera")
    lower = (slice(130, 180), slice(270, 320))  # below the horizon, right of the caption
    assert np.abs(frames[11][lower].astype(int) - frames[3][lower].astype(int)).mean() > 2


def test_snowy_words_select_the_snow_scene():
    for prompt in ("Snowy mountains at dawn", "snow-capped peaks", "a winter valley",
                   "a frozen pond at night", "icy cliffs", "a glacier under clouds"):
        assert theme_from_prompt(prompt, 0).setting == ("ocean" if "pond" in prompt else "snow"), prompt
    assert theme_from_prompt("Snowy mountains at dawn", 0).particles is None  # snow lying, not falling
    assert theme_from_prompt("snow falling on a winter forest", 0).particles == "snow"
    assert theme_from_prompt("mountains in a blizzard", 0).particles == "snow"


def test_a_boat_floats_on_the_water_when_the_prompt_names_one():
    prompt = "A paper boat drifting on a calm lake at golden hour, static camera"
    assert theme_from_prompt(prompt, 0).boat and not theme_from_prompt("A calm lake at golden hour", 0).boat
    spec = RenderSpec(prompt=prompt, width=640, height=360, duration=2.0, frame_rate=12)
    with_boat, without = source_for(spec), source_for(spec)
    without.scene.front = [e for e in without.scene.front if type(e).__name__ != "Boat"]
    assert len(without.scene.front) < len(with_boat.scene.front)
    one, other = (np.asarray(source.frame(20), int) for source in (with_boat, without))
    differs = np.abs(one - other).max(axis=2) > 40
    rows, _ = np.nonzero(differs)
    assert 300 < differs.sum() < 640 * 360 * 0.05 and rows.min() > 180  # boat-sized, on the water


@pytest.mark.parametrize(("prompt", "strategy"), [
    (SUNSET, None),  # clouds over three ridges, a push-in: the still layers are merged into one
    ("pan left over a pine forest at night", None),  # stars, fireflies, tree lines sliding apart
    ("snow falling on a winter valley, tilt up", None),  # snowflakes
    (SUNSET, "realistic"),  # film grain
])
def test_frames_composed_in_planes_are_the_rgb_composition(prompt, strategy):
    """The working canvas is composed straight in Y, U, V; it must be the RGB composition (which
    water and the colour grades still use) converted."""
    spec = RenderSpec(prompt=prompt, width=640, height=360, duration=2.0, frame_rate=12, strategy=strategy)
    scene = source_for(spec).scene
    assert scene.planar
    for index in (0, 11, 23):
        want = view.planes_of(to_yuv420p(np.asarray(scene.canvas(index)), scene.canvas_size))
        for i, (got, expected) in enumerate(zip(scene.canvas_planes(index), want, strict=True)):
            assert psnr(got, expected) >= 48, (index, i)  # 52-62 dB: rounding only


def test_layers_merged_for_a_still_camera_are_the_layers_pasted_one_by_one():
    spec = RenderSpec(prompt=SUNSET, width=640, height=360, duration=2.0, frame_rate=12)
    scene = source_for(spec).scene
    assert scene.offsets[5] in scene.still  # a push-in never slides the layers
    merged = scene.canvas_planes(5)
    scene.still = set()
    for got, expected in zip(merged, scene.canvas_planes(5), strict=True):
        assert psnr(got, expected) >= 45


def test_the_caption_is_drawn_at_the_output_resolution_and_fades(tmp_path):
    spec = RenderSpec(prompt=SUNSET, width=640, height=360, duration=2.0, frame_rate=12)
    source = source_for(spec)
    plain = [view.planes_of(source.scene.video_frame(i))[0].astype(int) for i in (0, 11, 12)]
    captioned = [view.planes_of(source.video_frame(i))[0].astype(int) for i in (0, 11, 12)]
    left, top = source.caption.position
    box = (slice(top, top + source.caption.image.height), slice(left, left + source.caption.image.width))
    differs = [np.abs(c - p)[box].mean() for c, p in zip(captioned, plain, strict=True)]
    assert differs[0] > 20 and 0 < differs[1] < differs[0] / 2 and differs[2] == 0  # shown, fading, gone
    outside = np.ones(plain[0].shape, bool)
    outside[box] = False
    assert np.array_equal(captioned[0][outside], plain[0][outside])
