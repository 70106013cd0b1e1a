import time

import pytest

from videos.providers.render import RenderCancelled, RenderSpec

from .helpers import render_to


def test_progress_rises_to_100(tmp_path):
    seen = []
    spec = RenderSpec(prompt="hills", width=320, height=180, duration=2.0, frame_rate=24)
    render_to(tmp_path, spec, progress=seen.append)
    assert seen[0] == 0 and seen[-1] == 100
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert seen.count(100) == 1


def test_cancelling_stops_within_a_second_and_removes_partial_files(tmp_path):
    flipped: list[float] = []

    def progress(percent: int) -> None:
        if percent > 0 and not flipped:
            flipped.append(time.monotonic())

    spec = RenderSpec(prompt="a city at night", width=640, height=360, duration=30.0, frame_rate=24)
    with pytest.raises(RenderCancelled):
        render_to(tmp_path, spec, progress=progress, cancelled=lambda: bool(flipped))
    assert time.monotonic() - flipped[0] < 1.0
    assert list(tmp_path.iterdir()) == []
