"""Fake Luma Dream Machine v1 (PROTOCOLS §3, lumaai 1.21): POST /generations/video, GET and DELETE
/generations/{id}. Errors are {"detail": ...}."""

from __future__ import annotations

from tests.fakevendors import FakeVendor, Reply, Request, route

MODELS = ("ray-2", "ray-flash-2")  # lumaai 1.21's video create knows these two
RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")


class FakeLuma(FakeVendor):
    name = "luma"
    prefix = "/dream-machine/v1"

    def invalid(self, message: str) -> Reply:
        return Reply(400, {"detail": message})

    def unauthorized(self) -> Reply:
        return Reply(401, {"detail": "Invalid API key"})

    @route("POST", "/dream-machine/v1/generations/video")
    def create(self, request: Request) -> Reply:
        body = request.json
        self.expect_fields(body, required={"model"}, allowed={
            "prompt", "generation_type", "aspect_ratio", "duration", "resolution", "loop", "keyframes",
            "callback_url", "concepts"})
        self.expect(body.get("generation_type", "video") == "video", "generation_type is video")
        self.expect(body["model"] in MODELS, f"unknown model {body['model']}")
        self.expect(body.get("duration", "5s") in ("5s", "9s"), "duration is the string 5s or 9s")
        self.expect(body.get("resolution", "720p") in ("540p", "720p", "1080p", "4k"), "bad resolution")
        self.expect(body.get("resolution") != "4k" or body["model"] == "ray-2", "4k is ray-2 only")
        self.expect(body.get("aspect_ratio", "16:9") in RATIOS, "bad aspect_ratio")
        self.expect(body.get("prompt") or body.get("keyframes"), "a prompt or keyframes")
        for key, frame in (body.get("keyframes") or {}).items():
            self.expect(key in ("frame0", "frame1"), f"unknown keyframe {key}")
            if frame.get("type") == "generation":
                self.expect(frame.keys() == {"type", "id"}, "generation keyframe {type, id}")
                continue
            self.expect(frame.keys() == {"type", "url"} and frame["type"] == "image", "keyframe {type, url}")
            self.expect(frame["url"].startswith("https://"), "keyframe images are https URLs")
        task = self.new_task("video", body)
        return Reply(201, self.generation(task, "queued"))

    @route("GET", "/dream-machine/v1/generations/(?P<task_id>[^/]+)", poll="task_id")
    def get(self, request: Request, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return Reply(404, {"detail": "Generation not found"})
        stage, _ = task.advance()
        return Reply(200, self.generation(task, stage))

    @route("DELETE", "/dream-machine/v1/generations/(?P<task_id>[^/]+)")
    def delete(self, request: Request, task_id: str) -> Reply:
        if task_id not in self.tasks:
            return Reply(404, {"detail": "Generation not found"})
        self.cancel_task(task_id)
        return Reply(204, b"")

    def generation(self, task, stage: str) -> dict:
        state = {"queued": "queued", "running": "dreaming", "succeeded": "completed"}.get(stage, "failed")
        reason = {"moderated": "Advanced moderation failed", "failed": self.failure_reason,
                  "cancelled": "Generation was deleted"}.get(stage)
        assets = {"video": self.result_url(task)} if state == "completed" else None
        return {"id": task.id, "generation_type": "video", "state": state, "failure_reason": reason,
                "assets": assets, "model": task.request["model"], "request": task.request,
                "created_at": "2026-11-24T10:00:00Z"}
