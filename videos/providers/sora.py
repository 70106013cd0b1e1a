"""OpenAI Sora 2 Videos API (PROTOCOLS §7): POST /videos, GET /videos/{id}, GET /videos/{id}/content.

Creates are multipart/form-data, as the official `openai` SDK sends them: its `input_reference` is an
uploaded image (3.57 refuses anything but a file there), which must have the video's exact size, so the
head image is fitted to `size` first.

⚠ OpenAI shut the Videos API down on 2026-09-24: SORA_BASE_URL points at a compatible endpoint.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import requests
from PIL import Image, ImageOps

from videos.providers.base import (
    INSUFFICIENT_BALANCE,
    INVALID_PARAMETER,
    MODERATION,
    VENDOR_ERROR,
    InputImage,
    Job,
    JobStatus,
    choose,
    find,
    refuse,
)
from videos.providers.http import HttpProvider

SIZES = {("720p", "16:9"): "1280x720", ("720p", "9:16"): "720x1280"}
PRO_SIZES = {**SIZES, ("1024p", "16:9"): "1792x1024", ("1024p", "9:16"): "1024x1792"}  # sora-2-pro only
# OpenAI error codes -> ours. insufficient_quota comes with a 429 and must not be retried.
CODES = {"insufficient_quota": INSUFFICIENT_BALANCE, "billing_hard_limit_reached": INSUFFICIENT_BALANCE,
         "invalid_request_error": INVALID_PARAMETER, "moderation_blocked": MODERATION,
         "content_policy_violation": MODERATION}


class SoraProvider(HttpProvider):
    name = "sora"
    default_base_url = "https://api.openai.com/v1"
    poll_interval = 10.0
    key_on_result_host = True  # /videos/{id}/content needs the key
    states: ClassVar[dict[str, str]] = {
        "queued": JobStatus.PENDING, "in_progress": JobStatus.PROCESSING,
        "completed": JobStatus.COMPLETED, "failed": JobStatus.FAILED,
    }

    def sizes(self, job: Job) -> dict[tuple[str, str], str]:
        return PRO_SIZES if job.vendor_model.startswith("sora-2-pro") else SIZES

    def check(self, job: Job) -> None:
        super().check(job)
        choose(job.aspect_ratio, {r for _, r in self.sizes(job)}, field="aspect_ratio", what="Sora")
        choose(job.resolution, {res for res, _ in self.sizes(job)}, field="resolution", what=job.vendor_model)
        choose(job.duration, (4, 8, 12), field="duration", what="Sora")  # ⚠ later guides add 16/20
        if job.tail_image is not None:
            refuse("Sora takes no last frame", field="tail_image")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        size = self.sizes(job)[(job.resolution, job.aspect_ratio)]
        fields: dict[str, Any] = {"prompt": (None, job.prompt), "model": (None, job.vendor_model),
                                  "seconds": (None, str(job.duration)), "size": (None, size)}
        if job.head_image:
            fields["input_reference"] = fitted(job.head_image, size)
        return str(self.dig(self.json("POST", "/videos", files=fields), "id"))

    def poll(self, task_id: str, job: Job) -> JobStatus:
        body = self.json("GET", f"/videos/{task_id}")
        progress = body.get("progress") if isinstance(body, dict) else None  # 0-100
        # The binary content endpoint on the vendor host: download() sends the key there (and only there).
        return self.status_from(str(self.dig(body, "status")),
                                result_url=lambda: f"{self.base_url}/videos/{task_id}/content",
                                failure=lambda: self._failure(body),
                                progress=int(progress) if isinstance(progress, (int, float)) else None)

    def _failure(self, video: dict[str, Any]) -> tuple[str, str]:
        code, message = str(find(video, "error", "code") or ""), str(find(video, "error", "message") or "")
        return (message, CODES[code]) if code in CODES else self.moderation_or(message or code)

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        message, _ = super().error_message(response)
        try:
            error = response.json()["error"]
            code = str(error.get("code") or error.get("type") or "")
        except (ValueError, KeyError, TypeError, AttributeError):
            return message, VENDOR_ERROR
        return (message, CODES[code]) if code in CODES else self.moderation_or(message)


def fitted(img: InputImage, size: str) -> tuple[str, bytes, str]:
    """The head image as an upload of exactly `size` ("1280x720"): Sora refuses a reference of another size.
    Scaled and centre-cropped (never stretched); sent as is when it already fits."""
    width, height = (int(n) for n in size.split("x"))
    kind = "png" if img.content_type == "image/png" else "jpeg"
    if (img.width, img.height) == (width, height) and img.content_type in ("image/png", "image/jpeg"):
        return f"input_reference.{kind}", img.data, img.content_type
    with Image.open(io.BytesIO(img.data)) as source:
        frame = ImageOps.fit(source.convert("RGB"), (width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    frame.save(buffer, kind.upper())
    return f"input_reference.{kind}", buffer.getvalue(), f"image/{kind}"
