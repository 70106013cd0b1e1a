"""Runway (PROTOCOLS §4): POST /image_to_video (or /text_to_video), GET /tasks/{id}; X-Runway-Version."""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from videos.providers.base import (
    INVALID_PARAMETER,
    MODERATION,
    VENDOR_ERROR,
    Job,
    JobStatus,
    choose,
    refuse,
)
from videos.providers.http import HttpProvider, body_message

API_VERSION = "2024-11-06"
# Our aspect ratio -> Runway's pixel ratio (720p-class outputs; runwayml/sdk-python).
RATIOS = {"16:9": "1280:720", "9:16": "720:1280", "4:3": "1104:832", "3:4": "832:1104", "1:1": "960:960",
          "21:9": "1584:672"}
TEXT_RATIOS = {"16:9": "1280:720", "9:16": "720:1280"}
TEXT_MODELS = {"gen4.5", "veo3", "veo3.1", "veo3.1_fast"}  # text_to_video: not gen4_turbo
LAST_FRAME_MODELS = {"veo3.1", "veo3.1_fast"}  # promptImage position "last"
MAX_SEED = 4294967295


def _failure(task: dict[str, Any]) -> tuple[str, str]:
    """failureCode is dot-separated: SAFETY.INPUT.* / SAFETY.OUTPUT.* are moderation, ASSET.* our input."""
    failure_code = str(task.get("failureCode") or "")
    reason = str(task.get("failure") or ("cancelled" if task.get("status") == "CANCELLED" else ""))
    code = (MODERATION if failure_code.startswith("SAFETY")
            else INVALID_PARAMETER if failure_code.startswith("ASSET") else VENDOR_ERROR)
    return (f"{reason} ({failure_code})" if failure_code else reason), code


class RunwayProvider(HttpProvider):
    name = "runway"
    default_base_url = "https://api.dev.runwayml.com/v1"
    poll_interval = 5.0  # Runway asks for >= 5 s between task polls
    images_by_url = True
    states: ClassVar[dict[str, str]] = {
        "PENDING": JobStatus.PENDING, "THROTTLED": JobStatus.PENDING, "RUNNING": JobStatus.PROCESSING,
        "SUCCEEDED": JobStatus.COMPLETED, "FAILED": JobStatus.FAILED, "CANCELLED": JobStatus.FAILED,
    }

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "X-Runway-Version": API_VERSION}

    def check(self, job: Job) -> None:
        super().check(job)
        model = job.vendor_model
        if job.head_image is None and model not in TEXT_MODELS:
            refuse(f"Runway {model} makes videos from an image only", field="head_image")
        choose(job.aspect_ratio, RATIOS if job.head_image else TEXT_RATIOS, field="aspect_ratio", what="Runway")
        choose(job.resolution, ("720p",), field="resolution", what=f"Runway {model}")
        # ⚠ older clients send 5 or 10 only; the current docs accept 2-10 s.
        choose(job.duration, range(2, 11), field="duration", what="Runway")
        if job.tail_image is not None and model not in LAST_FRAME_MODELS:
            refuse(f"Runway {model} takes a first frame only", field="tail_image")
        if job.seed is not None and not 0 <= job.seed <= MAX_SEED:
            refuse(f"Runway seeds are 0…{MAX_SEED}", field="seed")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        payload: dict[str, Any] = {"model": job.vendor_model, "promptText": job.prompt[:1000],
                                   "duration": job.duration}
        if job.seed is not None:
            payload["seed"] = job.seed
        if job.head_image is None:
            payload["ratio"] = TEXT_RATIOS[job.aspect_ratio]
            return str(self.dig(self.json("POST", "/text_to_video", json=payload), "id"))
        payload["ratio"] = RATIOS[job.aspect_ratio]
        # URLs, not data URIs: a data URI is capped at 5 MB and bloats every request.
        if job.tail_image is None:
            payload["promptImage"] = job.head_image.url
        else:
            payload["promptImage"] = [{"uri": job.head_image.url, "position": "first"},
                                      {"uri": job.tail_image.url, "position": "last"}]
        return str(self.dig(self.json("POST", "/image_to_video", json=payload), "id"))

    def poll(self, task_id: str, job: Job) -> JobStatus:
        body = self.json("GET", f"/tasks/{task_id}")
        progress = body.get("progress") if isinstance(body, dict) else None  # 0-1 while RUNNING
        return self.status_from(str(self.dig(body, "status")), result_url=lambda: self.dig(body, "output", 0),
                                failure=lambda: _failure(body),
                                progress=round(progress * 100) if isinstance(progress, (int, float)) else None)

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        message = body_message(response)  # {"error": "...", "issues": [...]}
        return message, INVALID_PARAMETER if response.status_code in (400, 422) else VENDOR_ERROR
