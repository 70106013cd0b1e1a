"""Google Veo on the Gemini API (PROTOCOLS §6): POST /models/{model}:predictLongRunning, then GET the
long-running operation by name; the result is a Google file URI downloaded WITH the API key.

⚠ The Gemini Veo previews were shut down on 2026-10-22: VEO_BASE_URL points at a compatible endpoint.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import requests

from videos.providers.base import (
    AUTH,
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

# Google status -> ours for HTTP errors; FAILED_PRECONDITION is how the Gemini API says "billing".
_KEY_INVALID = "API_KEY_INVALID"
STATUSES = {"INVALID_ARGUMENT": INVALID_PARAMETER, "FAILED_PRECONDITION": INSUFFICIENT_BALANCE}
RATIOS = ("16:9", "9:16")
FILE_URI = re.compile(r"/files/([a-z0-9]+)(?::download)?$")


def _resolutions(model: str) -> tuple[str, ...]:
    if model.startswith("veo-2"):
        return ("720p",)
    if model.startswith("veo-3.1-generate"):  # 4k: 3.1 standard only
        return ("720p", "1080p", "4k")
    return ("720p", "1080p")


def _image(img: InputImage) -> dict[str, Any]:
    # The shape google-genai's _Image_to_mldev sends on the Gemini API (it answers inlineData with a 400).
    return {"bytesBase64Encoded": img.base64(), "mimeType": img.content_type}


class VeoProvider(HttpProvider):
    name = "veo"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"
    poll_interval = 10.0  # 11 s - 6 min
    options = frozenset({"generateAudio"})
    key_on_result_host = True  # Google file URIs need the key

    def headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.config.get("api_key", "")}

    def check(self, job: Job) -> None:
        super().check(job)
        model = job.vendor_model
        choose(job.aspect_ratio, RATIOS, field="aspect_ratio", what="Veo")
        choose(job.resolution, _resolutions(model), field="resolution", what=model)
        choose(job.duration, range(5, 9) if model.startswith("veo-2") else (4, 6, 8), field="duration", what=model)
        if job.resolution != "720p" and job.duration != 8:
            refuse("Veo makes 1080p and 4k videos of 8 seconds only", field="duration")
        audio = job.options.get("generateAudio")
        if audio is not None:
            # Veo 3.x always generates audio and Veo 2 never does: there is no switch to pass on.
            if model.startswith("veo-3") and not audio:
                refuse(f"{model} always generates audio; generateAudio=false cannot be honoured",
                       field="generateAudio")
            if model.startswith("veo-2") and audio:
                refuse(f"{model} makes silent videos", field="generateAudio")
        if job.tail_image is not None:
            if not model.startswith("veo-3.1") or "lite" in model:
                refuse(f"{model} takes no last frame (Veo 3.1 does)", field="tail_image")
            if job.head_image is None:
                refuse("Veo takes a last frame only with a first frame", field="head_image")

    def submit(self, job: Job) -> str:
        self.recheck(job)
        instance: dict[str, Any] = {"prompt": job.prompt}
        if job.head_image:
            instance["image"] = _image(job.head_image)
        if job.tail_image:
            instance["lastFrame"] = _image(job.tail_image)
        parameters: dict[str, Any] = {"aspectRatio": job.aspect_ratio, "durationSeconds": job.duration}
        if not job.vendor_model.startswith("veo-2"):
            parameters["resolution"] = job.resolution
        # No parameters.seed: the Gemini API has none (google-genai refuses it outside Vertex), so a seed
        # cannot be honoured here; the catalog says so.
        body = self.json("POST", f"/models/{job.vendor_model}:predictLongRunning",
                         json={"instances": [instance], "parameters": parameters})
        return str(self.dig(body, "name"))  # "models/<model>/operations/<op>"

    def poll(self, task_id: str, job: Job) -> JobStatus:
        op = self.json("GET", f"/{task_id.lstrip('/')}")
        self.dig(op, "name")  # every operation carries its name; without it the body is not one
        if not op.get("done"):
            return JobStatus(state=JobStatus.PROCESSING, vendor_status="running")
        if error := op.get("error"):
            message = self.scrub(str(error.get("message") or error))
            return JobStatus.failed(message, code=STATUSES.get(error.get("status"), VENDOR_ERROR),
                                    vendor_status=f"error:{error.get('status') or error.get('code')}")
        response = op.get("response") or {}
        if uri := _video_uri(response):
            return JobStatus(state=JobStatus.COMPLETED, progress=100, vendor_status="done",
                             result_url=self.file_url(uri))
        video_response = response.get("generateVideoResponse") or {}
        if video_response.get("raiMediaFilteredCount"):
            reasons = "; ".join(video_response.get("raiMediaFilteredReasons") or []) or "blocked by the safety filter"
            return JobStatus.failed(self.scrub(reasons), code=MODERATION, vendor_status="filtered")
        return JobStatus.failed("Veo finished without a video", vendor_status="done")

    def file_url(self, uri: str) -> str:
        """Where to fetch a generated video: a Gemini Files URI (".../files/<name>:download") is fetched from
        OUR configured base, as google-genai's files.download does (it keeps only the file name), so a
        compatible endpoint or proxy serves it and the key goes nowhere else. Other URIs are used as is."""
        match = FILE_URI.search(urlsplit(uri).path)
        return f"{self.base_url}/files/{match.group(1)}:download?alt=media" if match else uri

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        try:
            error = response.json()["error"]
            message = str(error.get("message", ""))
            if _KEY_INVALID in str(error.get("details", "")) or message.startswith("API key not valid"):
                return message, AUTH  # Google refuses a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID
            return message, STATUSES.get(error.get("status"), VENDOR_ERROR)
        except (ValueError, KeyError, TypeError, AttributeError):
            return super().error_message(response)


def _video_uri(response: dict[str, Any]) -> str | None:
    """The video URI, wherever this endpoint put it: generatedSamples first (Gemini REST), then the
    SDK-style generatedVideos, then Vertex's videos[].gcsUri (⚠ shapes conflict between sources)."""
    candidates = (
        ("generateVideoResponse", "generatedSamples", 0, "video", "uri"),
        ("generateVideoResponse", "generatedVideos", 0, "video", "uri"),
        ("generatedVideos", 0, "video", "uri"),
        ("videos", 0, "gcsUri"),
    )
    return next((str(uri) for path in candidates if (uri := find(response, *path))), None)
