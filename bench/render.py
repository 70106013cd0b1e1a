"""Benchmark the local renderer: T2V (a sunset, and an ocean), I2V and KF2V at 480p/720p/1080p,
16:9, 6 s at 24 fps, against libx264 alone.

Each case runs in its own subprocess. The baseline, "encoder-only", is libx264 fed the case's own
frames already in the encoder's yuv420p at the output size (every frame, every size; made by the
renderer's producer before any timing), through the same VideoWriter: the same X264_OPTIONS and
threads, the same muxing. It is the fastest the renderer could go if making a frame cost nothing.
Renderer and encoder-only runs alternate (R E R E R E) so load on the machine hits both alike; each
figure is the median of 3. The first render's peak RSS is taken before the baseline frames exist.
Then the peak RSS of a 1080p 10 s render of each kind. Prints markdown tables and the load average.

    nice -n -5 .venv/bin/python bench/render.py     # everything (~10 min on 2 loaded cores)
    .venv/bin/python bench/render.py kf2v 720       # one case, as JSON
    .venv/bin/python bench/render.py t2v 720 i2v 720  # some cases, as the table
"""

from __future__ import annotations

import io
import json
import os
import resource
import statistics
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
RUNS = 3


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


def _cpu() -> float:
    """CPU seconds this process has used, all its threads (libx264's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed_render(spec, d: str) -> tuple[float, float]:
    """(wall s, CPU s) of one render."""
    from videos.providers.render import render

    start, cpu = time.perf_counter(), _cpu()
    render(spec, video_path=f"{d}/v.mp4", thumbnail_path=f"{d}/t.jpg", last_frame_path=f"{d}/l.png")
    return time.perf_counter() - start, _cpu() - cpu


def _premade_frames(spec) -> list:
    """Every frame of the clip as the renderer hands it to the encoder (yuv420p at the output size)."""
    from videos.providers.render.pipeline import _Producer, source_for

    producer = _Producer(source_for(spec), spec.frames, set())
    producer.start()
    frames = []
    for _ in range(spec.frames):
        item = producer.queue.get()
        if isinstance(item, BaseException):
            raise item
        frames.append(item[0])
    producer.join()
    assert all(f.format.name == "yuv420p" and (f.width, f.height) == (spec.width, spec.height) for f in frames)
    return frames


def _timed_encode(spec, frames: list, d: str) -> tuple[float, float]:
    """(wall s, CPU s) of encoding the pre-made frames."""
    from videos.providers.render.encode import VideoWriter

    writer = VideoWriter(f"{d}/e.mp4", spec.width, spec.height, spec.frame_rate)
    start, cpu = time.perf_counter(), _cpu()
    for frame in frames:
        writer.write(frame)
    writer.close()
    return time.perf_counter() - start, _cpu() - cpu


def run_case(mode: str, p: int) -> dict:
    """In a child process: renders and encoder-only runs, alternating, RUNS of each; medians."""
    spec = _spec(mode, p)
    renders, encodes = [], []
    with tempfile.TemporaryDirectory() as d:
        renders.append(_timed_render(spec, d))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        frames = _premade_frames(spec)
        encodes.append(_timed_encode(spec, frames, d))
        for _ in range(RUNS - 1):
            renders.append(_timed_render(spec, d))
            encodes.append(_timed_encode(spec, frames, d))
    n = spec.frames
    render_fps = [n / w for w, _ in renders]
    encode_fps = [n / w for w, _ in encodes]
    return {"fps": statistics.median(render_fps), "wall": statistics.median(w for w, _ in renders), "rss": peak_mb,
            "encode_fps": statistics.median(encode_fps), "runs": {"render_fps": render_fps, "encode_fps": encode_fps},
            # CPU ms per frame: what the machine's load does not change (wall fps is its share of the cores)
            "render_cpu_ms": statistics.median(1000 * c / n for _, c in renders),
            "encode_cpu_ms": statistics.median(1000 * c / n for _, c in encodes),
            # each run's own ratio (render i against the encode right after it), for the spread
            "ratios": [r / e for r, e in zip(render_fps, encode_fps, strict=True)]}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 2 and args[1] == "memory":  # child
        print(json.dumps(run_memory(args[0])))
        return
    if len(args) == 2:  # child
        print(json.dumps(run_case(args[0], int(args[1]))))
        return
    cases = [(args[i], int(args[i + 1])) for i in range(0, len(args), 2)] if args else CASES
    from videos.providers.render.encode import X264_OPTIONS, X264_THREADS

    print(f"{DURATION:g} s at {FPS} fps, 16:9, libx264 {X264_OPTIONS} threads={X264_THREADS}, "
          f"nice {os.nice(0)}; load average (1/5/15 min) at start: {_load()}")
    print("encoder-only = the same frames pre-made in yuv420p at the output size, same writer; "
          f"medians of {RUNS}, run alternately\n")
    print("CPU ms/frame: all threads' CPU time per frame (the load does not change it); CPU ratio = "
          "encoder-only's / the renderer's, what the fps ratio tends to when the cores are saturated\n")
    print("| case | size | renderer fps | wall s | peak RSS MB | encoder-only fps | ratio | ratio per run "
          "| renderer CPU ms/frame | encoder-only CPU ms/frame | CPU ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, p in cases:
        r = _child(mode, str(p))
        spread = " ".join(f"{x:.2f}" for x in r["ratios"])
        print(f"| {mode} | {p}p | {r['fps']:.0f} | {r['wall']:.2f} | {r['rss']:.0f} | {r['encode_fps']:.0f} "
              f"| {r['fps'] / r['encode_fps']:.2f} | {spread} | {r['render_cpu_ms']:.1f} | {r['encode_cpu_ms']:.1f} "
              f"| {r['encode_cpu_ms'] / r['render_cpu_ms']:.2f} |", flush=True)
    print(f"\nload average at the end: {_load()}")
    if args:
        return
    print(f"\n1080p {MEMORY_DURATION:g} s, peak RSS (goal < 400 MB):\n")
    print("| case | wall s | peak RSS MB |")
    print("|---|---|---|")
    for mode in ("t2v", "i2v", "kf2v"):
        r = _child(mode, "memory")
        print(f"| {mode} | {r['wall']:.2f} | {r['rss']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
