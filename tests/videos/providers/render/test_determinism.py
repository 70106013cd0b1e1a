"""The same spec (and seed) gives the same MP4, byte for byte: in one process and in a fresh one.

libx264 with B-frames read uninitialised heap memory in its lookahead, so repeated renders in one
process differed (see encode.X264_OPTIONS); later renders reuse freed memory, which is where such
garbage shows, hence several runs per process.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from videos.providers.render import RenderSpec

from .helpers import picture, render_to

ROOT = Path(__file__).resolve().parents[4]
HEAD = picture((320, 180), disc_x=0.3, colour=(235, 200, 40))
TAIL = picture((320, 180), disc_x=0.6, colour=(235, 120, 40))


def spec_for(kind: str) -> RenderSpec:
    return RenderSpec(prompt="A serene mountain landscape at sunset with clouds moving", width=320,
                      height=180, duration=1.0, frame_rate=12, seed=5, head_image=HEAD if kind != "t2v" else None,
                      tail_image=TAIL if kind == "kf2v" else None)


def render_bytes(tmp_path: Path, spec: RenderSpec, name: str) -> bytes:
    (tmp_path / name).mkdir()
    _, paths = render_to(tmp_path / name, spec)
    return paths["video"].read_bytes()


@pytest.mark.parametrize("kind", ["t2v", "i2v", "kf2v"])
def test_repeated_renders_in_one_process_are_byte_identical(tmp_path, kind):
    files = {render_bytes(tmp_path, spec_for(kind), str(run)) for run in range(4)}
    assert len(files) == 1


def test_a_fresh_process_renders_the_same_bytes(tmp_path):
    here = render_bytes(tmp_path, spec_for("kf2v"), "here")
    code = (
        "import sys\n"
        "from tests.videos.providers.render.test_determinism import spec_for\n"
        "from videos.providers.render import render\n"
        "render(spec_for('kf2v'), video_path=sys.argv[1], thumbnail_path=sys.argv[1] + '.jpg',\n"
        "       last_frame_path=sys.argv[1] + '.png')\n"
    )
    target = tmp_path / "there.mp4"
    subprocess.run([sys.executable, "-c", code, str(target)], cwd=ROOT, check=True, timeout=120)
    assert target.read_bytes() == here
