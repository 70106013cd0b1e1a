"""Fake DashScope (PROTOCOLS §8): async-only video synthesis, kf2v endpoint, /tasks polling."""

from __future__ import annotations

import re

from tests.fakevendors import FakeVendor, Reply, Request, route

T2V = {"wan2.5-t2v-preview", "wan2.2-t2v-plus", "wanx2.1-t2v-turbo", "wanx2.1-t2v-plus"}
I2V = {"wan2.5-i2v-preview", "wan2.2-i2v-plus", "wan2.2-i2v-flash", "wanx2.1-i2v-turbo", "wanx2.1-i2v-plus"}
KF2V = {"wan2.2-kf2v-flash", "wan2.1-kf2v-plus", "wanx2.1-kf2v-plus"}


def dashscope_error(code: str, message: str) -> dict:
    return {"request_id": "req-1", "code": code, "message": message}


class FakeWan(FakeVendor):
    name = "wan"
    prefix = "/api/v1"
    api_key = "sk-fakeDashScopeKey0123456789"

    def invalid(self, message: str) -> Reply:
        return Reply(400, dashscope_error("InvalidParameter", message))

    def unauthorized(self) -> Reply:
        return Reply(401, dashscope_error("InvalidApiKey", "Invalid API-key provided."))

    def create(self, request: Request, models: set[str], image_fields: set[str]) -> Reply:
        # Without it DashScope answers 403 "current user api does not support synchronous calls".
        self.expect_header(request, "X-DashScope-Async", "enable")
        body = request.json
        self.expect_fields(body, required={"model", "input"}, allowed={"parameters"})
        self.expect(body["model"] in models, f"model {body['model']} not on this endpoint")
        # dashscope 2.0 always sends input.extend_prompt (deprecated twin of parameters.prompt_extend).
        self.expect_fields(body["input"], required={"prompt"} | image_fields,
                           allowed={"negative_prompt", "audio_url", "extend_prompt", "function", "template"})
        self.expect(isinstance(body["input"].get("extend_prompt", True), bool), "input.extend_prompt is a bool")
        for key in image_fields:
            self.expect(body["input"][key].startswith(("https://", "data:image/")), f"{key}: URL or data URI")
        params = body.get("parameters", {})
        self.expect_fields(params, required={"duration"}, allowed={
            "size", "resolution", "prompt_extend", "watermark", "seed", "audio"})
        self.expect(isinstance(params["duration"], int), "duration is an int")
        self.expect(params["duration"] in ((5, 10) if body["model"].startswith("wan2.5") else (5,)),
                    f"duration {params['duration']} not offered by {body['model']}")
        if body["model"] in T2V:
            self.expect("resolution" not in params and re.fullmatch(r"\d+\*\d+", params.get("size", "")), "size W*H")
        else:
            self.expect("size" not in params and params.get("resolution") in ("480P", "720P", "1080P"), "480P…")
        self.expect("audio" not in params or body["model"].startswith("wan2.5"), "audio is wan2.5 only")
        task = self.new_task(body["model"], body)
        return Reply(200, {"request_id": "req-1", "output": {"task_id": task.id, "task_status": "PENDING"}})

    @route("POST", "/api/v1/services/aigc/video-generation/video-synthesis")
    def synthesis(self, request: Request) -> Reply:
        has_image = "img_url" in ((request.json or {}).get("input") or {})
        return self.create(request, I2V if has_image else T2V, {"img_url"} if has_image else set())

    @route("POST", "/api/v1/services/aigc/image2video/video-synthesis")
    def keyframes(self, request: Request) -> Reply:
        return self.create(request, KF2V, {"first_frame_url", "last_frame_url"})

    @route("POST", "/api/v1/tasks/(?P<task_id>[^/]+)/cancel")
    def cancel(self, request: Request, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        now = task.script[min(max(task.polls - 1, 0), len(task.script) - 1)] if task else ""
        if task is None or task.final or now != "queued":
            # Only PENDING tasks can be cancelled (dashscope's VideoSynthesis.cancel).
            return Reply(400, dashscope_error("UnsupportedOperation", "Failed to cancel the task, please confirm "
                                              "if the task is in PENDING status."))
        self.cancel_task(task_id)
        return Reply(200, {"request_id": "req-3"})

    @route("GET", "/api/v1/tasks/(?P<task_id>[^/]+)", poll="task_id")
    def task(self, request: Request, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return Reply(200, {"request_id": "req-2", "output": {"task_id": task_id, "task_status": "UNKNOWN"}})
        stage, _ = task.advance()
        status = {"queued": "PENDING", "running": "RUNNING", "succeeded": "SUCCEEDED",
                  "cancelled": "CANCELED"}.get(stage, "FAILED")
        output = {"task_id": task.id, "task_status": status, "submit_time": "2026-11-24 10:00:00.000"}
        if status == "SUCCEEDED":
            output["video_url"] = self.result_url(task)
            return Reply(200, {"request_id": "req-2", "output": output, "usage": {"duration": 5, "video_count": 1}})
        if stage == "moderated":
            output.update(code="DataInspectionFailed", message="Output data may contain inappropriate content.")
        elif stage == "failed":
            output.update(code="InternalError", message=self.failure_reason)
        return Reply(200, {"request_id": "req-2", "output": output})
