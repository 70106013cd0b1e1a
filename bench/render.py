"""Benchmark the local renderer: T2V (a sunset, and an ocean), I2V and KF2V at 480p/720p/1080p,
16:9, 6 s at 24 fps.

Each case runs in its own subprocess (so peak RSS is that case's alone) and is compared with the
encoder alone on the same frames, produced in advance into memory (fewer frames at 1080p, to keep
memory sane; rates are per frame so they compare), through the same VideoWriter, so with the same
libx264 settings. (T2V renders hand most frames to the writer as canvas-size drafts that swscale
scales up during the YUV conversion, so they can beat "encoder-only" on full-size frames; fps is
the absolute figure.) Prints a markdown table, then the peak RSS of a 1080p 10 s render of each kind.

    .venv/bin/python bench/render.py            # everything
    .venv/bin/python bench/render.py kf2v 720   # one case, as JSON
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = [(mode, p) for p in (480, 720, 1080) for mode in ("t2v", "t2v-ocean", "i2v", "kf2v")]
PROMPTS = {"t2v-ocean": "Aerial view of ocean waves, cinematic"}  # water: its own per-frame work
DURATION, FPS = 6.0, 24
MEMORY_DURATION = 10.0


def _image(size: tuple[int, int], shift: float) -> bytes:
    import numpy as np
    from PIL import Image, ImageDraw

    w, h = size
    rng = np.random.default_rng(1)
    base = Image.fromarray(rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    draw = ImageDraw.Draw(base)
    r = h // 5
    cx = int(w * (0.35 + shift))
    draw.ellipse((cx - r, h // 2 - r, cx + r, h // 2 + r), fill=(240, 200, 50))
    out = io.BytesIO()
    base.save(out, format="PNG")
    return out.getvalue()


def _spec(mode: str, p: int):
    from videos.providers.render import RenderSpec, dimensions_for

    w, h = dimensions_for(p, "16:9")
    head = _image((w, h), 0.0) if mode in ("i2v", "kf2v") else None
    tail = _image((w, h), 0.25) if mode == "kf2v" else None
    prompt = PROMPTS.get(mode, "A serene mountain landscape at sunset with clouds moving")
    return RenderSpec(prompt=prompt, width=w, height=h,
                      duration=DURATION, frame_rate=FPS, seed=1, head_image=head, tail_image=tail)


def run_memory(mode: str) -> dict:
    """In a child process: peak RSS of a 1080p 10 s render, nothing else."""
    from dataclasses import replace

    from videos.providers.render import render

    spec = replace(_spec(mode, 1080), duration=MEMORY_DURATION)
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        render(spec, video_path=f"{d}/v.mp4", thumbnail_path=f"{d}/t.jpg", last_frame_path=f"{d}/l.png")
        wall = time.perf_counter() - start
    return {"wall": wall, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_case(mode: str, p: int) -> dict:
    """In a child process: time the full render, then the encoder alone on pre-made frames."""
    from videos.providers.render import render
    from videos.providers.render.encode import VideoWriter
    from videos.providers.render.pipeline import source_for

    spec = _spec(mode, p)
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        result = render(spec, video_path=f"{d}/v.mp4", thumbnail_path=f"{d}/t.jpg", last_frame_path=f"{d}/l.png")
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        source = source_for(spec)
        count = result.frames if p < 1080 else result.frames // 2
        frames = [source.frame(i) for i in range(count)]
        writer = VideoWriter(f"{d}/e.mp4", spec.width, spec.height, spec.frame_rate)
        start = time.perf_counter()
        for frame in frames:
            writer.write(frame)
        writer.close()
        encode_fps = count / (time.perf_counter() - start)
    return {"fps": result.frames / wall, "wall": wall, "rss": peak_mb, "encode_fps": encode_fps}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3:  # child
        if sys.argv[2] == "memory":
            print(json.dumps(run_memory(sys.argv[1])))
        else:
            print(json.dumps(run_case(sys.argv[1], int(sys.argv[2]))))
        return
    from videos.providers.render.encode import X264_OPTIONS, X264_THREADS

    print(f"{DURATION:g} s at {FPS} fps, 16:9, libx264 {X264_OPTIONS} threads={X264_THREADS}; "
          "encoder-only = same frames pre-rendered, same writer\n")
    print("| case | size | fps | wall s | peak RSS MB | encoder-only fps | ratio |")
    print("|---|---|---|---|---|---|---|")
    for mode, p in CASES:
        r = _child(mode, str(p))
        print(f"| {mode} | {p}p | {r['fps']:.0f} | {r['wall']:.2f} | {r['rss']:.0f} | {r['encode_fps']:.0f} "
              f"| {r['fps'] / r['encode_fps']:.2f} |", flush=True)
    print(f"\n1080p {MEMORY_DURATION:g} s, peak RSS (goal < 400 MB):\n")
    print("| case | wall s | peak RSS MB |")
    print("|---|---|---|")
    for mode in ("t2v", "i2v", "kf2v"):
        r = _child(mode, "memory")
        print(f"| {mode} | {r['wall']:.2f} | {r['rss']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
