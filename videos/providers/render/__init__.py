"""The embedded local renderer: real H.264 MP4s from a prompt and optional keyframes, no Django.

    render(RenderSpec(prompt=..., width=1280, height=720, duration=6), video_path=..., ...)

T2V builds a procedural scene from the prompt's words (scene.py), I2V moves a camera through the
head image (still.py), KF2V morphs head into tail along estimated optical flow (morph.py); all make
their frames straight in the encoder's yuv420p, camera moves scaled by swscale (view.py), and
stream through libx264 one frame at a time (pipeline.py, encode.py).
"""

from .encode import probe, thumbnail_from_video
from .pipeline import render
from .spec import RenderCancelled, RenderResult, RenderSpec, dimensions_for

__all__ = ["RenderCancelled", "RenderResult", "RenderSpec", "dimensions_for", "probe", "render",
           "thumbnail_from_video"]
