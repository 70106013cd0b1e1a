"""MiniMax Hailuo (PROTOCOLS §2): POST /v1/video_generation, poll /v1/query/video_generation, then
resolve the file id through /v1/files/retrieve. MiniMax reports errors inside HTTP 200 bodies (base_resp)."""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from videos.providers.base import (
    AUTH,
    INSUFFICIENT_BALANCE,
    INVALID_PARAMETER,
    MODERATION,
    VENDOR_ERROR,
    VENDOR_UNAVAILABLE,
    Job,
    JobStatus,
    choose,
    refuse,
)
from videos.providers.http import HttpProvider, body_message

# base_resp.status_code -> our code (platform.minimax.io errorcode table; 1039 is the token rate limit).
BASE_RESP_CODES = {
    1000: VENDOR_UNAVAILABLE, 1001: VENDOR_UNAVAILABLE, 1024: VENDOR_UNAVAILABLE,
    1002: VENDOR_UNAVAILABLE, 1039: VENDOR_UNAVAILABLE,
    1004: AUTH, 2049: AUTH, 2061: VENDOR_ERROR,  # auth, key (HTTP 200 at MiniMax), plan: an operator must act
    1008: INSUFFICIENT_BALANCE,
    1026: MODERATION, 1027: MODERATION,
    2013: INVALID_PARAMETER,
}

# Our resolution -> MiniMax's, per vendor model. 512P is Hailuo-02 image-to-video only (the catalog's
# "480p" ids map to it); 512P text-to-video is contested between sources, so it is refused.
RESOLUTIONS = {
    "MiniMax-Hailuo-02": {"480p": "512P", "512p": "512P", "768p": "768P", "1080p": "1080P"},
    "MiniMax-Hailuo-2.3": {"768p": "768P", "1080p": "1080P"},
    "MiniMax-Hailuo-2.3-Fast": {"768p": "768P", "1080p": "1080P"},
}
DURATIONS = (6, 10)
MAX_PROMPT = 2000  # characters


def _failure(task: dict[str, Any]) -> tuple[str, str]:
    base = task.get("base_resp") or {}
    code = BASE_RESP_CODES.get(base.get("status_code"), VENDOR_ERROR)
    return str(base.get("status_msg") or ""), VENDOR_ERROR if code == VENDOR_UNAVAILABLE else code


class MiniMaxProvider(HttpProvider):
    name = "minimax"
    default_base_url = "https://api.minimax.io"
    poll_interval = 15.0  # 5-20 RPM accounts; MiniMax-MCP polls every 20 s, renders take 2-4 min
    options = frozenset({"promptOptimizer"})
    states: ClassVar[dict[str, str]] = {
        "Preparing": JobStatus.PENDING, "Queueing": JobStatus.PENDING, "Processing": JobStatus.PROCESSING,
        "Success": JobStatus.COMPLETED, "Fail": JobStatus.FAILED, "Failed": JobStatus.FAILED,  # cli says "Failed"
    }

    def vendor_model(self, job: Job) -> str:
        # 2.3-Fast is image-to-video only at MiniMax: a text-only request goes to 2.3 (catalog note).
        if job.vendor_model == "MiniMax-Hailuo-2.3-Fast" and job.head_image is None:
            return "MiniMax-Hailuo-2.3"
        return job.vendor_model

    def check(self, job: Job) -> None:
        super().check(job)
        model = self.vendor_model(job)
        resolution = choose(job.resolution, RESOLUTIONS.get(model, {"720p": "720P", "1080p": "1080P"}),
                            field="resolution", what=model)
        choose(job.duration, DURATIONS if model in RESOLUTIONS else (6,), field="duration", what=model)
        if len(job.prompt) > MAX_PROMPT:
            refuse(f"MiniMax takes prompts of up to {MAX_PROMPT} characters", field="prompt")
        if resolution == "512P" and job.head_image is None:
            refuse("MiniMax makes 512P videos from an image only", field="head_image")
        if resolution == "1080P" and job.duration != 6:
            refuse("MiniMax makes 1080P videos of 6 seconds only", field="duration")
        if job.tail_image is not None:
            if model != "MiniMax-Hailuo-02":
                refuse(f"{model} does not take a last frame (only MiniMax-Hailuo-02 does)", field="tail_image")
            if resolution == "512P":
                refuse("MiniMax-Hailuo-02 takes a last frame at 768P or 1080P, not 512P", field="tail_image")
            if job.head_image is None:
                refuse("a last frame needs a first frame", field="head_image")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        model = self.vendor_model(job)
        payload: dict[str, Any] = {
            "model": model, "prompt": job.prompt, "duration": job.duration,
            "resolution": RESOLUTIONS.get(model, {"720p": "720P", "1080p": "1080P"})[job.resolution],
        }
        if job.options.get("promptOptimizer") is not None:
            payload["prompt_optimizer"] = bool(job.options["promptOptimizer"])
        # Data URIs: MiniMax need not reach our storage (which may be private on a laptop).
        if job.head_image:
            payload["first_frame_image"] = job.head_image.data_uri()
        if job.tail_image:
            payload["last_frame_image"] = job.tail_image.data_uri()
        body = self.call("POST", "/v1/video_generation", json=payload)
        return str(self.dig(body, "task_id"))

    def poll(self, task_id: str, job: Job) -> JobStatus:
        body = self.call("GET", "/v1/query/video_generation", params={"task_id": task_id}, poll=True)
        return self.status_from(str(self.dig(body, "status")), result_url=lambda: self.download_url(body),
                                failure=lambda: _failure(body))

    def download_url(self, task: dict[str, Any]) -> str:
        """A finished task names a file; its temporary URL comes from /v1/files/retrieve."""
        file = self.call("GET", "/v1/files/retrieve", params={"file_id": self.dig(task, "file_id")})
        return str(self.dig(file, "file", "download_url"))

    def call(self, method: str, path: str, *, poll: bool = False, **kwargs: Any) -> Any:
        """One request; a non-zero base_resp.status_code raises, except on a poll that reports a failed task."""
        body = self.json(method, path, **kwargs)
        base = body.get("base_resp") if isinstance(body, dict) else None
        code = (base or {}).get("status_code", 0)
        if code and not (poll and self.state(str(body.get("status"))) == JobStatus.FAILED):
            self.fail(f"error {code}: {base.get('status_msg', '')}", code=BASE_RESP_CODES.get(code, VENDOR_ERROR))
        return body

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        try:
            base = response.json().get("base_resp") or {}
        except (ValueError, AttributeError):
            base = {}
        if base.get("status_code"):
            return f"error {base['status_code']}: {base.get('status_msg', '')}", BASE_RESP_CODES.get(
                base["status_code"], VENDOR_ERROR)
        return body_message(response), VENDOR_ERROR
