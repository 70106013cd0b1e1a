"""Pika through fal.ai's queue (PROTOCOLS §9): POST /{model path}, then the request's status and result
URLs. `Authorization: Key <fal key>`; images by URL.

Our task id is "<owner/app>|<request_id>" (e.g. "fal-ai/pika|req1"): fal's status and result URLs live
under the app path, not the model path, and rebuilding them on the configured base keeps the key on the
host the operator chose (and the id short enough for Video.vendor_task_id).
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from videos.providers.base import (
    INVALID_PARAMETER,
    VENDOR_ERROR,
    Job,
    JobStatus,
    ProviderError,
    choose,
    refuse,
)
from videos.providers.http import HttpProvider, body_message

RATIOS = ("16:9", "9:16", "1:1", "4:5", "5:4", "3:2", "2:3")  # text-to-video only; I2V follows the image
MAX_FRAMES_SECONDS = 25


class PikaProvider(HttpProvider):
    name = "pika"
    default_base_url = "https://queue.fal.run"
    poll_interval = 5.0
    cancellable = True
    images_by_url = True
    states: ClassVar[dict[str, str]] = {
        "IN_QUEUE": JobStatus.PENDING, "IN_PROGRESS": JobStatus.PROCESSING, "COMPLETED": JobStatus.COMPLETED,
        "FAILED": JobStatus.FAILED, "CANCELED": JobStatus.FAILED, "CANCELLED": JobStatus.FAILED,  # ⚠ 3P schemas
    }

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.config.get('api_key', '')}"}

    def endpoint(self, job: Job) -> str:
        # A text-to-video id given an image is served by the image-to-video endpoint of the same version.
        if job.vendor_model.endswith("/text-to-video") and job.head_image is not None:
            return job.vendor_model.removesuffix("text-to-video") + "image-to-video"
        return job.vendor_model

    def check(self, job: Job) -> None:
        super().check(job)
        endpoint = self.endpoint(job)
        resolutions = ("480p", "720p", "1080p") if "/v2.5/" in endpoint else ("720p", "1080p")
        choose(job.resolution, resolutions, field="resolution", what=endpoint)
        choose(job.duration, (5, 10), field="duration", what="Pika")
        if endpoint.endswith("/text-to-video"):
            choose(job.aspect_ratio, RATIOS, field="aspect_ratio", what="Pika text-to-video")
        if endpoint.endswith("/pikaframes"):
            if job.head_image is None or job.tail_image is None:
                refuse("Pikaframes needs a first and a last frame", field="tail_image" if job.head_image else "head_image")
        elif job.tail_image is not None:
            refuse(f"{endpoint} takes no last frame (pikaframes does)", field="tail_image")
        elif endpoint.endswith("/image-to-video") and job.head_image is None:
            refuse(f"{endpoint} needs an image", field="head_image")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        endpoint = self.endpoint(job)
        payload: dict[str, Any] = {"prompt": job.prompt, "resolution": job.resolution}
        if job.seed is not None:
            payload["seed"] = job.seed
        if endpoint.endswith("/pikaframes"):
            # ⚠ fal's llms.txt: 2-5 keyframes, one transition per pair with its own duration (total <= 25 s).
            payload["image_urls"] = [job.head_image.url, job.tail_image.url]  # type: ignore[union-attr]
            payload["transitions"] = [{"duration": job.duration, "prompt": job.prompt}]
        else:
            payload["duration"] = job.duration
            if endpoint.endswith("/image-to-video"):
                payload["image_url"] = job.head_image.url  # type: ignore[union-attr]
            else:
                payload["aspect_ratio"] = job.aspect_ratio
        body = self.json("POST", f"/{endpoint}", json=payload)
        request_id = str(self.dig(body, "request_id"))
        status_path = urlsplit(str(body.get("status_url") or "")).path
        app = status_path.partition("/requests/")[0].strip("/") if "/requests/" in status_path else ""
        return f"{app or '/'.join(endpoint.split('/')[:2])}|{request_id}"

    def poll(self, task_id: str, job: Job) -> JobStatus:
        app, _, request_id = task_id.rpartition("|")
        if not app or not request_id:
            raise ProviderError(f"pika: unreadable task id {task_id!r}")
        body = self.json("GET", f"/{app}/requests/{request_id}/status")  # 202 while pending, 200 when done
        vendor_status = str(self.dig(body, "status"))
        if body.get("error"):  # some fal apps put the failure on the status itself
            vendor_status = "FAILED"
        # fal reports most failed generations only on the result fetch, as an HTTP error (-> a failed video).
        return self.status_from(vendor_status,
                                result_url=lambda: self.dig(self.json("GET", f"/{app}/requests/{request_id}"),
                                                            "video", "url"),
                                failure=lambda: self.moderation_or(str(body.get("error") or "")))

    def cancel(self, vendor_task_id: str, job: Job) -> bool:
        """fal's queue cancel, PUT .../requests/{id}/cancel (fal-client's cancel): 202 when taken, 400
        ALREADY_COMPLETED when the request is over."""
        app, _, request_id = vendor_task_id.rpartition("|")
        if not app or not request_id:
            raise ProviderError(f"pika: unreadable task id {vendor_task_id!r}")
        return self.cancel_request("PUT", f"/{app}/requests/{request_id}/cancel", done=(400, 404))

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        message = body_message(response)  # {"detail": "..."} or a list of validation errors
        return self.moderation_or(message, INVALID_PARAMETER if response.status_code in (400, 422) else VENDOR_ERROR)
