"""Copy as code: the API call (cURL, Python) and the `mcpvideo` CLI line that make a video like this one."""

from __future__ import annotations

import json
import pprint
import shlex
from typing import Any

from videos.files import file_url
from videos.models import GenerationSession, Video
from videos.providers.render import dimensions_for

IMAGE_URL_TTL = 7 * 24 * 3600  # the copied command keeps working for a week


def _default_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    short = 2160 if resolution == "4k" else int(resolution.rstrip("p") or 0)
    return dimensions_for(short, aspect_ratio)


def request_body(video: Video, *, base: str) -> dict[str, Any]:
    """The JSON body of the request that makes this video again, in the API's own names.

    Images are stored inputs, linked by signed URLs that the API can fetch; every value the user could have
    set is spelled out (the seed too), so the same request asks for the same video."""
    params, session = video.params, video.session
    body: dict[str, Any] = {"model": video.model.model_id, "prompt": video.prompt}
    for which in ("head_image", "tail_image"):
        if name := session.params.get(which):
            body[which] = file_url(name, base=base, ttl=IMAGE_URL_TTL)
    body.update(duration=video.duration, aspect_ratio=video.aspect_ratio, resolution=video.resolution)
    width, height = params.get("width"), params.get("height")
    try:
        default = _default_size(video.resolution, video.aspect_ratio)
    except ValueError:
        default = (0, 0)
    if width and height and (width, height) != default:
        body.update(width=width, height=height)
    if params.get("frame_rate") and params["frame_rate"] != 24:
        body["frame_rate"] = params["frame_rate"]
    if params.get("strategy"):
        body["strategy"] = params["strategy"]
    if params.get("seed") is not None:
        body["seed"] = params["seed"]
    body.update(params.get("options") or {})
    if session.kind == GenerationSession.Kind.TIMED:
        body.update(max_videos=session.max_videos, interval_seconds=session.interval_seconds,
                    duration_minutes=session.duration_minutes)
        if session.budget_credits is not None:
            body["budget_credits"] = float(session.budget_credits)
    return body


def _endpoint(video: Video) -> str:
    return "/api/v3/videos/sessions" if video.session.kind == GenerationSession.Kind.TIMED else "/api/v3/videos/generate"


def curl(video: Video, *, base: str) -> str:
    data = json.dumps(request_body(video, base=base), ensure_ascii=False)
    return "\n".join([
        f'curl -sS -X POST "${{MCPHUB_BASE_URL:-{base}}}{_endpoint(video)}" \\',
        '  -H "X-API-Key: $MCPHUB_API_KEY" \\',
        '  -H "Content-Type: application/json" \\',
        f"  -d {shlex.quote(data)}",
    ])


def python(video: Video, *, base: str) -> str:
    body = pprint.pformat(request_body(video, base=base), indent=4, width=100, sort_dicts=False)
    timed = video.session.kind == GenerationSession.Kind.TIMED
    lines = [
        "import os",
        "import time",
        "",
        "import requests",
        "",
        f'BASE = os.environ.get("MCPHUB_BASE_URL", "{base}")',
        'HEADERS = {"X-API-Key": os.environ["MCPHUB_API_KEY"]}',
        f"body = {body}",
        f'r = requests.post(BASE + "{_endpoint(video)}", json=body, headers=HEADERS, timeout=120)',
        "r.raise_for_status()",
    ]
    if timed:
        lines += ['session_id = r.json()["session_id"]',
                  'print("Session", session_id, "started:", BASE + "/api/v3/videos/sessions/" + session_id)']
    else:
        lines += [
            'video_id = r.json()["video_id"]',
            "while True:  # poll until the video is final",
            '    video = requests.get(BASE + "/api/v3/videos/" + video_id, headers=HEADERS, timeout=30).json()',
            '    if video["status"] in ("completed", "failed"):',
            "        break",
            "    time.sleep(5)",
            'print(video["status"], video.get("video_url") or video.get("error"))',
        ]
    return "\n".join(lines)


def cli(video: Video, *, base: str) -> str:
    """The `mcpvideo` line (MCPHUB_API_KEY and MCPHUB_BASE_URL come from the environment).

    Its options cover the model, prompt, images, duration, ratio, resolution and seed; a size, frame rate, style
    or vendor option the video also used is only in the cURL and Python versions (a comment says so)."""
    body = request_body(video, base=base)
    timed = video.session.kind == GenerationSession.Kind.TIMED
    parts = ["mcpvideo", *(["sessions", "create"] if timed else ["generate"]), "--model", body["model"],
             "--prompt", body["prompt"]]
    for flag, key in (("--image", "head_image"), ("--tail", "tail_image"), ("--duration", "duration"),
                      ("--aspect-ratio", "aspect_ratio"), ("--resolution", "resolution"), ("--seed", "seed")):
        if body.get(key) is not None:
            parts += [flag, body[key]]
    if timed:
        parts += ["--max-videos", body["max_videos"], "--interval", body["interval_seconds"],
                  "--minutes", body["duration_minutes"]]
        if body.get("budget_credits") is not None:
            parts += ["--budget", body["budget_credits"]]
    else:
        parts += ["--wait", "-o", f"{video.public_id}.mp4"]
    line = " ".join(shlex.quote(str(p)) for p in parts)
    left_out = [k for k in body if k not in CLI_KEYS]
    if left_out:
        line = f"# The CLI has no option for: {', '.join(left_out)} (see the cURL or Python version)\n{line}"
    return line


CLI_KEYS = {"model", "prompt", "head_image", "tail_image", "duration", "aspect_ratio", "resolution", "seed",
            "max_videos", "interval_seconds", "duration_minutes", "budget_credits"}


def snippets(video: Video, *, base: str) -> list[dict[str, str]]:
    return [
        {"id": "curl", "label": "cURL", "code": curl(video, base=base)},
        {"id": "python", "label": "Python", "code": python(video, base=base)},
        {"id": "cli", "label": "CLI", "code": cli(video, base=base)},
    ]
