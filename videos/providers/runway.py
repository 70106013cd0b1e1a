"""Runway (PROTOCOLS §4): POST /image_to_video (or /text_to_video), GET /tasks/{id}; X-Runway-Version."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
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
# Our aspect ratio -> Runway's pixel ratio, per model family and resolution (runwayml 5.24 create params).
GEN4_RATIOS = {"16:9": "1280:720", "9:16": "720:1280", "4:3": "1104:832", "3:4": "832:1104", "1:1": "960:960",
               "21:9": "1584:672"}
TEXT_RATIOS = {"16:9": "1280:720", "9:16": "720:1280"}
VEO_RATIOS = {"720p": {"16:9": "1280:720", "9:16": "720:1280"},
              "1080p": {"16:9": "1920:1080", "9:16": "1080:1920"}}


@dataclass(frozen=True)
class Model:
    image_ratios: dict[str, dict[str, str]]  # resolution -> our ratio -> Runway's (image_to_video)
    text_ratios: dict[str, dict[str, str]] | None  # the same for text_to_video; None: no text_to_video
    durations: Collection[int]
    last_frame: bool  # promptImage position "last"
    prompt_required: bool


MODELS = {
    "gen4_turbo": Model({"720p": GEN4_RATIOS}, None, range(2, 11), last_frame=False, prompt_required=False),
    "gen4.5": Model({"720p": GEN4_RATIOS}, {"720p": TEXT_RATIOS}, range(2, 11), last_frame=False,
                    prompt_required=True),
    "veo3.1": Model(VEO_RATIOS, VEO_RATIOS, (4, 6, 8), last_frame=True, prompt_required=False),
    "veo3.1_fast": Model(VEO_RATIOS, VEO_RATIOS, (4, 6, 8), last_frame=True, prompt_required=False),
}
MAX_PROMPT = 1000  # UTF-16 code units, as Runway counts them
MAX_SEED = 4294967295


def utf16_units(text: str) -> int:
    """Length as Runway (JavaScript) counts it: characters outside the BMP (most emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


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
    cancellable = True
    images_by_url = True
    states: ClassVar[dict[str, str]] = {
        "PENDING": JobStatus.PENDING, "THROTTLED": JobStatus.PENDING, "RUNNING": JobStatus.PROCESSING,
        "SUCCEEDED": JobStatus.COMPLETED, "FAILED": JobStatus.FAILED, "CANCELLED": JobStatus.FAILED,
    }

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "X-Runway-Version": API_VERSION}

    def check(self, job: Job) -> None:
        super().check(job)
        model = choose(job.vendor_model, MODELS, field="model", what="Runway")
        ratios = model.image_ratios if job.head_image is not None else model.text_ratios
        if ratios is None:
            refuse(f"Runway {job.vendor_model} makes videos from an image only", field="head_image")
        by_ratio = choose(job.resolution, ratios, field="resolution", what=f"Runway {job.vendor_model}")
        choose(job.aspect_ratio, by_ratio, field="aspect_ratio", what=f"Runway {job.vendor_model} at {job.resolution}")
        choose(job.duration, model.durations, field="duration", what=f"Runway {job.vendor_model}")
        if job.tail_image is not None and not model.last_frame:
            refuse(f"Runway {job.vendor_model} takes a first frame only", field="tail_image")
        if (job.head_image is None or model.prompt_required) and not job.prompt.strip():
            refuse(f"Runway {job.vendor_model} needs a prompt", field="prompt")
        if utf16_units(job.prompt) > MAX_PROMPT:
            refuse(f"Runway takes prompts of up to {MAX_PROMPT} UTF-16 code units "
                   f"(this one has {utf16_units(job.prompt)})", field="prompt")
        if job.seed is not None and not 0 <= job.seed <= MAX_SEED:
            refuse(f"Runway seeds are 0…{MAX_SEED}", field="seed")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        model = MODELS[job.vendor_model]
        payload: dict[str, Any] = {"model": job.vendor_model, "duration": job.duration}
        if job.prompt:
            payload["promptText"] = job.prompt
        if job.seed is not None:
            payload["seed"] = job.seed
        if job.head_image is None:
            payload["ratio"] = model.text_ratios[job.resolution][job.aspect_ratio]  # type: ignore[index]
            return str(self.dig(self.json("POST", "/text_to_video", json=payload), "id"))
        payload["ratio"] = model.image_ratios[job.resolution][job.aspect_ratio]
        # URLs, not data URIs: a data URI is capped at 5 MB and bloats every request.
        if job.tail_image is None:
            payload["promptImage"] = job.head_image.url
        else:
            payload["promptImage"] = [{"uri": job.head_image.url, "position": "first"},
                                      {"uri": job.tail_image.url, "position": "last"}]
        return str(self.dig(self.json("POST", "/image_to_video", json=payload), "id"))

    def cancel(self, vendor_task_id: str, job: Job) -> bool:
        """DELETE /v1/tasks/{id} (runwayml's tasks.delete): cancels a running task, deletes a finished one."""
        return self.cancel_request("DELETE", f"/tasks/{vendor_task_id}")

    def poll(self, task_id: str, job: Job) -> JobStatus:
        body = self.json("GET", f"/tasks/{task_id}")
        progress = body.get("progress") if isinstance(body, dict) else None  # 0-1 while RUNNING
        return self.status_from(str(self.dig(body, "status")), result_url=lambda: self.dig(body, "output", 0),
                                failure=lambda: _failure(body),
                                progress=round(progress * 100) if isinstance(progress, (int, float)) else None)

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        message = body_message(response)  # {"error": "...", "issues": [...]}
        return message, INVALID_PARAMETER if response.status_code in (400, 422) else VENDOR_ERROR
