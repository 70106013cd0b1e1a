"""Kling (PROTOCOLS §5): HS256 JWT auth, POST /v1/videos/{text2video|image2video}, poll on the same path.

The task id we hand back is "<path kind>/<vendor task id>" (e.g. "image2video/8001"), because Kling only
answers a poll on the path the task was created on.

Every create carries `external_task_id` = our video's public id, so a create whose answer never arrived (a
worker killed mid-submit, a read timeout, a garbled 2xx) can be found again (`find_submitted`). Kling's API
reference (Text to Video / Image to Video, "Create Task" and "Query Task (Single)"): external_task_id is a
"customized task ID ... must be unique within a single user account"; the single-task query
`GET /v1/videos/{text2video|image2video}/{id}` takes it as the path id ("Request path parameter, fill the value
directly in the request path. Choose either task_id or external_task_id for querying"), and the task's
`task_info.external_task_id` echoes it. A video is created at Kling at most once (after a task exists it is
only ever polled; a clean refusal created nothing), so the public id alone is a stable key, and the
account-wide uniqueness makes a repeated create refuse rather than run twice.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar
from urllib.parse import quote

import jwt
import requests

from videos.providers.base import (
    INSUFFICIENT_BALANCE,
    INVALID_PARAMETER,
    MODERATION,
    VENDOR_ERROR,
    VENDOR_UNAVAILABLE,
    Job,
    JobStatus,
    ProviderError,
    ProviderUnavailable,
    choose,
    refuse,
)
from videos.providers.http import HttpProvider, body_message

TOKEN_TTL = 1800  # seconds; Kling's documented exp = now + 1800
# Envelope `code` -> ours (Kling error-code table). Anything else follows the HTTP status.
CODES = {
    **dict.fromkeys((1100, 1101, 1102), INSUFFICIENT_BALANCE),  # arrears, resource pack depleted (HTTP 429!)
    **dict.fromkeys((1200, 1201, 1202, 1203), INVALID_PARAMETER),
    1301: MODERATION,
    **dict.fromkeys((1302, 1303, 5000, 5001, 5002), VENDOR_UNAVAILABLE),  # rate, concurrency, maintenance
}
# Our resolution -> Kling `mode` per model (std is 720p, pro 1080p; master models have no mode).
MODES: dict[str, dict[str, str | None]] = {
    "kling-v1": {"720p": "std", "1080p": "pro"},
    "kling-v1-5": {"720p": "std", "1080p": "pro"},
    "kling-v1-6": {"720p": "std", "1080p": "pro"},
    "kling-v2-1": {"720p": "std", "1080p": "pro"},
    "kling-v2-5-turbo": {"720p": "std", "1080p": "pro"},
    "kling-v2-6": {"720p": "std", "1080p": "pro"},
    "kling-v2-master": {"1080p": None},
    "kling-v2-1-master": {"1080p": None},
}
IMAGE_ONLY = {"kling-v1-5", "kling-v2-1"}  # no text2video
TEXT_RATIOS = ("16:9", "9:16", "1:1")
# image_tail (first+last frame), per Kling's API reference and capability map: pro mode only, and not on the
# v2 master models or v2.1 ("not supported by Kling v2.1 models"); the 1.x models end-frame at 5 s only.
TAIL_MODELS = {"kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-5-turbo", "kling-v2-6"}
TAIL_5S_ONLY = {"kling-v1", "kling-v1-5", "kling-v1-6"}
MAX_PROMPT = 2500  # characters
NOT_FOUND = 1203  # "the requested resource does not exist" (HTTP 404 in Kling's error-code table)


class KlingProvider(HttpProvider):
    name = "kling"
    default_base_url = "https://api-singapore.klingai.com"
    poll_interval = 10.0  # 5 s clips take ~60-90 s; queries are free and unlimited
    options = frozenset({"strength"})
    states: ClassVar[dict[str, str]] = {
        "submitted": JobStatus.PENDING, "processing": JobStatus.PROCESSING,
        "succeed": JobStatus.COMPLETED, "failed": JobStatus.FAILED,
    }

    def __init__(self) -> None:
        super().__init__()
        self._token, self._token_exp = "", 0.0

    def is_configured(self) -> bool:
        return bool(self.config.get("api_key") and self.config.get("secret_key"))

    def token(self) -> str:
        """The HS256 JWT Kling wants: iss = access key, signed with the secret key; reused until near exp."""
        now = time.time()
        if now > self._token_exp - 300:
            claims = {"iss": self.config.get("api_key", ""), "exp": int(now) + TOKEN_TTL, "nbf": int(now) - 5}
            self._token = jwt.encode(claims, self.config.get("secret_key", ""), algorithm="HS256",
                                     headers={"typ": "JWT"})
            self._token_exp = now + TOKEN_TTL
        return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def secrets(self) -> list[str]:
        return [*super().secrets(), *([self._token] if self._token else [])]

    def check(self, job: Job) -> None:
        super().check(job)
        model = job.vendor_model
        mode = choose(job.resolution, MODES.get(model, {"720p": "std"}), field="resolution", what=model)
        choose(job.duration, (5, 10), field="duration", what="Kling")
        if job.head_image is None:
            if model in IMAGE_ONLY:
                refuse(f"{model} makes videos from an image only", field="head_image")
            choose(job.aspect_ratio, TEXT_RATIOS, field="aspect_ratio", what="Kling text-to-video")
        if len(job.prompt) > MAX_PROMPT:
            refuse(f"Kling takes prompts of up to {MAX_PROMPT} characters", field="prompt")
        if job.tail_image is not None:
            if job.head_image is None:
                refuse("a tail frame needs a head frame", field="head_image")
            if model not in TAIL_MODELS:
                refuse(f"{model} takes no tail frame (Kling: v1.x, v2.5 turbo and v2.6 in pro mode do)",
                       field="tail_image")
            if mode != "pro":
                refuse(f"{model} takes a tail frame in pro mode (1080p) only", field="tail_image")
            if model in TAIL_5S_ONLY and job.duration != 5:
                refuse(f"{model} makes first+last frame videos of 5 seconds only", field="duration")
        if job.options.get("strength") is not None:
            if model.startswith("kling-v2"):
                refuse(f"{model} has no cfg_scale (strength is for Kling 1.x)", field="strength")
            if not 0 <= float(job.options["strength"]) <= 100:
                refuse("strength is 0-100", field="strength")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        kind = self.kind(job)
        payload: dict[str, Any] = {"model_name": job.vendor_model, "prompt": job.prompt,
                                   "duration": str(job.duration), "external_task_id": job.video_id}
        if mode := MODES.get(job.vendor_model, {"720p": "std"})[job.resolution]:
            payload["mode"] = mode
        if job.options.get("strength") is not None:
            payload["cfg_scale"] = round(float(job.options["strength"]) / 100, 2)
        if job.head_image:  # bare base64: Kling rejects the data: prefix; the aspect follows the image
            payload["image"] = job.head_image.base64()
            if job.tail_image:
                payload["image_tail"] = job.tail_image.base64()
        else:
            payload["aspect_ratio"] = job.aspect_ratio
        try:
            body = self.envelope(self.json("POST", f"/v1/videos/{kind}", json=payload))
        except ProviderUnavailable:
            raise
        except ProviderError as e:
            # Refused. If the refusal is that our external_task_id is taken, an earlier create of this very
            # video reached Kling (its answer was lost): take that task up instead of failing the video.
            if e.code == INVALID_PARAMETER and (found := self.find_submitted(job)):
                return found
            raise
        return f"{kind}/{self.dig(body, 'data', 'task_id')}"

    def find_submitted(self, job: Job) -> str | None:
        """The task a create of `job` made at Kling, looked up by our external_task_id; None when Kling has
        no such task (it never got the create). Unreadable answers and 429/5xx raise: then nobody knows."""
        kind = self.kind(job)
        try:
            response = self.http.get(self.url(f"/v1/videos/{kind}/{quote(job.video_id, safe='')}"),
                                     headers=self.headers(), timeout=self.timeout)
        except requests.RequestException as e:
            raise ProviderUnavailable(self.scrub(f"kling: lookup {type(e).__name__}")) from None
        if response.status_code == 404 or self.code_of(response) == NOT_FOUND:  # no task by that id
            return None
        self.raise_for_status(response)
        try:
            body = self.envelope(response.json())
        except ValueError:
            raise ProviderUnavailable("kling: malformed lookup answer") from None
        data = self.dig(body, "data")
        tagged = (data.get("task_info") or {}).get("external_task_id") if isinstance(data, dict) else None
        if tagged not in (None, "", job.video_id):  # never take up somebody else's task
            raise ProviderError(f"kling: the task found for {job.video_id} is tagged {tagged!r}", code=VENDOR_ERROR)
        return f"{kind}/{self.dig(data, 'task_id')}"

    @staticmethod
    def kind(job: Job) -> str:
        """Kling's path for this job: image2video when it has a head frame, else text2video."""
        return "image2video" if job.head_image else "text2video"

    def poll(self, task_id: str, job: Job) -> JobStatus:
        kind, _, vendor_id = task_id.partition("/")
        if kind not in ("text2video", "image2video") or not vendor_id:
            raise ProviderError(f"kling: unreadable task id {task_id!r}")
        data = self.dig(self.envelope(self.json("GET", f"/v1/videos/{kind}/{vendor_id}")), "data")
        return self.status_from(str(self.dig(data, "task_status")),
                                result_url=lambda: self.dig(data, "task_result", "videos", 0, "url"),
                                failure=lambda: self.moderation_or(str(data.get("task_status_msg") or "")))

    def envelope(self, body: Any) -> Any:
        """Kling's {"code","message","data"}: a non-zero code in a 2xx body is still an error."""
        code = body.get("code", 0) if isinstance(body, dict) else 0
        if code:
            self.fail(f"error {code}: {body.get('message', '')}", code=CODES.get(code, VENDOR_ERROR))
        return body

    @staticmethod
    def code_of(response: requests.Response) -> int | None:
        """The envelope's `code` of an answer, if it has one."""
        try:
            return response.json().get("code")
        except (ValueError, AttributeError):
            return None

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        code = self.code_of(response)
        message = body_message(response)
        return (f"error {code}: {message}" if code else message), CODES.get(code, VENDOR_ERROR) if code else VENDOR_ERROR
