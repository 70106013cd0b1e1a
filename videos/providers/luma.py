"""Luma Dream Machine (PROTOCOLS §3): POST /generations/video, GET /generations/{id}, DELETE /generations/{id};
images by URL only."""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from videos.providers.base import (
    INSUFFICIENT_BALANCE,
    INVALID_PARAMETER,
    MODERATION,
    VENDOR_ERROR,
    Job,
    JobStatus,
    choose,
    looks_like_moderation,
)
from videos.providers.http import HttpProvider, body_message

RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
DURATIONS = {5: "5s", 9: "9s"}
RESOLUTIONS = {  # lumaai 1.21 knows ray-2 and ray-flash-2 only (ray-1-6 is gone from the video create)
    "ray-2": ("540p", "720p", "1080p", "4k"),
    "ray-flash-2": ("540p", "720p", "1080p"),  # Luma's price sheet has flash 4k, its API refuses it: be safe
}


class LumaProvider(HttpProvider):
    name = "luma"
    default_base_url = "https://api.lumalabs.ai/dream-machine/v1"
    poll_interval = 5.0  # a 5 s clip takes ~30-60 s
    cancellable = True
    images_by_url = True
    states: ClassVar[dict[str, str]] = {
        "queued": JobStatus.PENDING, "dreaming": JobStatus.PROCESSING,
        "completed": JobStatus.COMPLETED, "failed": JobStatus.FAILED,
    }

    def check(self, job: Job) -> None:
        super().check(job)
        resolutions = choose(job.vendor_model, RESOLUTIONS, field="model", what="Luma")
        choose(job.resolution, resolutions, field="resolution", what=job.vendor_model)
        choose(job.duration, DURATIONS, field="duration", what="Luma")
        choose(job.aspect_ratio, RATIOS, field="aspect_ratio", what="Luma")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        payload: dict[str, Any] = {
            "generation_type": "video", "prompt": job.prompt, "model": job.vendor_model,
            "duration": DURATIONS[job.duration], "resolution": job.resolution, "aspect_ratio": job.aspect_ratio,
        }
        keyframes = {key: {"type": "image", "url": img.url}
                     for key, img in (("frame0", job.head_image), ("frame1", job.tail_image)) if img}
        if keyframes:
            payload["keyframes"] = keyframes
        return str(self.dig(self.json("POST", "/generations/video", json=payload), "id"))

    def poll(self, task_id: str, job: Job) -> JobStatus:
        body = self.json("GET", f"/generations/{task_id}")
        return self.status_from(str(self.dig(body, "state")), result_url=lambda: self.dig(body, "assets", "video"),
                                failure=lambda: self.moderation_or(str(body.get("failure_reason") or "")))

    def cancel(self, vendor_task_id: str, job: Job) -> bool:
        """DELETE /generations/{id} (lumaai's generations.delete): Luma stops and removes the generation."""
        return self.cancel_request("DELETE", f"/generations/{vendor_task_id}")

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        message = body_message(response)  # {"detail": "..."}
        if response.status_code == 402:
            return message, INSUFFICIENT_BALANCE
        if response.status_code in (400, 422):
            return message, MODERATION if looks_like_moderation(message) else INVALID_PARAMETER
        return message, VENDOR_ERROR
