"""Jobs and images for adapter tests (our side of the request)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from videos.catalog import CATALOG
from videos.providers.base import InputImage, Job


def image(width: int = 640, height: int = 360, color: str = "red", url: str = "") -> InputImage:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return InputImage(data=buffer.getvalue(), content_type="image/png", width=width, height=height,
                      url=url or f"https://media.example.test/inputs/{color}.png?sig=abc")


def make_job(model_id: str, **overrides: Any) -> Job:
    """A Job for catalog model `model_id` at its defaults, as the service would build it."""
    entry = next(e for e in CATALOG if e["model_id"] == model_id)
    ratio = overrides.get("aspect_ratio", entry["default_aspect_ratio"])
    fields: dict[str, Any] = {
        "video_id": "vid_test", "prompt": "a paper boat drifts on a pond", "model_id": model_id,
        "vendor_model": entry["vendor_model"], "type": entry["type"], "duration": entry["duration"],
        "resolution": entry["resolution"], "aspect_ratio": ratio, "width": 1280, "height": 720,
    }
    if entry["head_image"] == "required":
        fields["head_image"] = image()
    if entry["tail_image"] == "required":
        fields["tail_image"] = image(color="blue")
    fields.update(overrides)
    return Job(**fields)


def poll_until_final(provider: Any, task_id: str, job: Job, *, max_polls: int = 10) -> list[Any]:
    """Poll like the poll task does (without the countdown): every status until a final one."""
    statuses = []
    for _ in range(max_polls):
        statuses.append(provider.poll(task_id, job))
        if statuses[-1].state in ("completed", "failed"):
            return statuses
    raise AssertionError(f"not final after {max_polls} polls: {statuses[-1]}")


def download(provider: Any, status: Any, job: Job) -> bytes:
    buffer = io.BytesIO()
    provider.download(status, job, buffer)
    return buffer.getvalue()
