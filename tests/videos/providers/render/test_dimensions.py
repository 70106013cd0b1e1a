import pytest

from videos.providers.render import dimensions_for


@pytest.mark.parametrize(("resolution", "ratio", "expected"), [
    (720, "16:9", (1280, 720)),
    (720, "9:16", (720, 1280)),
    (1080, "16:9", (1920, 1080)),
    (480, "16:9", (854, 480)),
    (720, "1:1", (720, 720)),
    (720, "4:3", (960, 720)),
    (720, "3:4", (720, 960)),
    (720, "21:9", (1680, 720)),
    (1080, "21:9", (2520, 1080)),
])
def test_it_maps_resolution_and_aspect_ratio_to_even_dimensions(resolution, ratio, expected):
    assert dimensions_for(resolution, ratio) == expected
    assert all(v % 2 == 0 for v in dimensions_for(resolution, ratio))


def test_it_rejects_unknown_aspect_ratios():
    with pytest.raises(ValueError):
        dimensions_for(720, "5:4")
