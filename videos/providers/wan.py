"""Alibaba Wan on DashScope (PROTOCOLS §8): async video-synthesis (T2V, I2V) and image2video (first+last
frame) endpoints, polled at /tasks/{id}. Every create needs X-DashScope-Async: enable."""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from videos.providers.base import (
    INSUFFICIENT_BALANCE,
    INVALID_PARAMETER,
    MODERATION,
    VENDOR_ERROR,
    VENDOR_UNAVAILABLE,
    Job,
    JobStatus,
    choose,
    find,
    refuse,
)
from videos.providers.http import HttpProvider, body_message

SYNTHESIS = "/services/aigc/video-generation/video-synthesis"
KEYFRAMES = "/services/aigc/image2video/video-synthesis"
CODES = {"DataInspectionFailed": MODERATION, "Arrearage": INSUFFICIENT_BALANCE, "InvalidParameter": INVALID_PARAMETER,
         "Throttling": VENDOR_UNAVAILABLE, "InternalError": VENDOR_UNAVAILABLE}
RESOLUTIONS = {
    "wan2.5-t2v-preview": ("480p", "720p", "1080p"), "wan2.5-i2v-preview": ("480p", "720p", "1080p"),
    "wan2.2-t2v-plus": ("480p", "1080p"), "wan2.2-i2v-plus": ("480p", "1080p"),
    "wan2.2-i2v-flash": ("480p", "720p"), "wan2.2-kf2v-flash": ("480p", "720p", "1080p"),
    "wan2.1-kf2v-plus": ("720p",), "wanx2.1-kf2v-plus": ("720p",),
}
# T2V takes an output size "W*H" (with an asterisk); I2V/kf2v a resolution and the image's aspect.
SIZES = {
    "480p": {"16:9": "832*480", "9:16": "480*832", "1:1": "624*624"},
    "720p": {"16:9": "1280*720", "9:16": "720*1280", "1:1": "960*960", "4:3": "1088*832", "3:4": "832*1088"},
    "1080p": {"16:9": "1920*1080", "9:16": "1080*1920", "1:1": "1440*1440", "4:3": "1632*1248",
              "3:4": "1248*1632"},
}
MAX_SEED = 2147483647


def _code(code: str) -> str:
    return CODES.get(code) or CODES.get(code.partition(".")[0]) or VENDOR_ERROR  # Throttling.RateQuota…


def _failure(output: dict[str, Any]) -> tuple[str, str]:
    code = str(output.get("code") or "")
    message = str(output.get("message") or {"CANCELED": "the task was cancelled",
                                            "UNKNOWN": "the task is unknown or expired"}.get(output["task_status"], ""))
    ours = _code(code)  # a task that failed on an internal error is over: not retryable any more
    return (f"{code}: {message}" if code else message), VENDOR_ERROR if ours == VENDOR_UNAVAILABLE else ours


class WanProvider(HttpProvider):
    name = "wan"
    default_base_url = "https://dashscope-intl.aliyuncs.com/api/v1"
    poll_interval = 15.0  # 1-5 min renders; 2 concurrent tasks on small accounts
    cancellable = True
    options = frozenset({"wanAudio", "promptOptimizer"})
    states: ClassVar[dict[str, str]] = {
        "PENDING": JobStatus.PENDING, "RUNNING": JobStatus.PROCESSING, "SUCCEEDED": JobStatus.COMPLETED,
        "FAILED": JobStatus.FAILED, "CANCELED": JobStatus.FAILED, "UNKNOWN": JobStatus.FAILED,
    }

    def vendor_model(self, job: Job) -> str:
        # Wan 2.5 is one catalog model: with an image the call goes to the i2v variant.
        if job.vendor_model == "wan2.5-t2v-preview" and job.head_image is not None:
            return "wan2.5-i2v-preview"
        return job.vendor_model

    def check(self, job: Job) -> None:
        super().check(job)
        model = self.vendor_model(job)
        choose(job.resolution, RESOLUTIONS.get(model, ("720p",)), field="resolution", what=model)
        choose(job.duration, (5, 10) if model.startswith("wan2.5") else (5,), field="duration", what=model)
        if "kf2v" in model:
            for field, img in (("head_image", job.head_image), ("tail_image", job.tail_image)):
                if img is None:
                    refuse(f"{model} needs a first and a last frame", field=field)
        elif job.tail_image is not None:
            refuse(f"{model} takes no last frame (the kf2v models do)", field="tail_image")
        elif "i2v" in model and job.head_image is None:
            refuse(f"{model} makes videos from an image only", field="head_image")
        elif "t2v" in model:
            choose(job.aspect_ratio, SIZES[job.resolution], field="aspect_ratio", what=f"{model} at {job.resolution}")
        if job.options.get("wanAudio") is not None and not model.startswith("wan2.5"):
            refuse("only Wan 2.5 generates audio", field="wanAudio")
        if job.seed is not None and not 0 <= job.seed <= MAX_SEED:
            refuse(f"Wan seeds are 0…{MAX_SEED}", field="seed")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        model = self.vendor_model(job)
        inputs: dict[str, Any] = {"prompt": job.prompt}
        parameters: dict[str, Any] = {"duration": job.duration}
        path = SYNTHESIS
        if "kf2v" in model:
            path = KEYFRAMES
            # URLs per the official kf2v docs; data URIs only as a fallback (⚠ [3P] says they work too).
            inputs["first_frame_url"] = job.head_image.url or job.head_image.data_uri()  # type: ignore[union-attr]
            inputs["last_frame_url"] = job.tail_image.url or job.tail_image.data_uri()  # type: ignore[union-attr]
        elif job.head_image is not None:
            inputs["img_url"] = job.head_image.data_uri()  # documented: DashScope need not reach our storage
        if "t2v" in model:
            parameters["size"] = SIZES[job.resolution][job.aspect_ratio]
        else:
            parameters["resolution"] = job.resolution.upper()
        if job.options.get("wanAudio") is not None:
            parameters["audio"] = bool(job.options["wanAudio"])
        if job.options.get("promptOptimizer") is not None:
            parameters["prompt_extend"] = bool(job.options["promptOptimizer"])
        if job.seed is not None:
            parameters["seed"] = job.seed
        body = self.json("POST", path, json={"model": model, "input": inputs, "parameters": parameters},
                         headers={"X-DashScope-Async": "enable"})
        return str(self.dig(body, "output", "task_id"))

    def poll(self, task_id: str, job: Job) -> JobStatus:
        output = self.dig(self.json("GET", f"/tasks/{task_id}"), "output")
        return self.status_from(str(self.dig(output, "task_status")), result_url=lambda: self.dig(output, "video_url"),
                                failure=lambda: _failure(output))

    def cancel(self, vendor_task_id: str, job: Job) -> bool:
        """POST /tasks/{id}/cancel (dashscope's VideoSynthesis.cancel). DashScope cancels PENDING tasks only;
        a running one answers 400 UnsupportedOperation and is left to finish (False)."""
        return self.cancel_request("POST", f"/tasks/{vendor_task_id}/cancel", done=(400, 404))

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        code = str(find(_json(response), "code") or "")
        message = body_message(response)
        return (f"{code}: {message}" if code else message), _code(code)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
