"""The provider's view of a video: a Job built from the row (and, to submit, its stored images)."""

from __future__ import annotations

import io

from PIL import Image

from videos import files
from videos.models import Video
from videos.providers.base import InputImage, Job


def _input(name: str) -> InputImage | None:
    if not name:
        return None
    with files.default_storage.open(name, "rb") as handle:
        data = handle.read()
    with Image.open(io.BytesIO(data)) as image:  # vetted at intake; only the header is read here
        content_type, (width, height) = Image.MIME[image.format], image.size
    return InputImage(data=data, content_type=content_type, width=width, height=height,
                      url=files.file_url(name, base=files.base_url(), ttl=48 * 3600))


def job_for_video(video: Video, *, images: bool = True) -> Job:
    """The provider's view of `video`. `images=False` skips reading the stored images (polls don't need them)."""
    params = video.params
    session_params = video.session.params if images else {}
    return Job(
        video_id=video.public_id, prompt=video.prompt, model_id=video.model.model_id,
        vendor_model=video.model.vendor_model, type=video.model.type, duration=video.duration,
        resolution=video.resolution, aspect_ratio=video.aspect_ratio, width=video.width, height=video.height,
        frame_rate=video.frame_rate, seed=params.get("seed"), strategy=params.get("strategy"),
        options=dict(params.get("options", {})), head_image=_input(session_params.get("head_image", "")),
        tail_image=_input(session_params.get("tail_image", "")),
    )
