"""Fake Luma Dream Machine v1 (PROTOCOLS §3)."""

from __future__ import annotations

from tests.fakevendors import FakeVendor, Reply, Request, route


class FakeLuma(FakeVendor):
    name = "luma"
    prefix = "/dream-machine/v1"

    @route("POST", "/dream-machine/v1/generations")
    def create(self, request: Request) -> Reply:
        body = request.json
        self.expect_fields(body, required={"prompt", "model"}, allowed={
            "generation_type", "aspect_ratio", "duration", "resolution", "loop", "keyframes", "callback_url"})
        self.expect(body["model"] in ("ray-2", "ray-flash-2", "ray-1-6"), "unknown model")
        self.expect(body.get("duration") in ("5s", "9s"), "duration is the string 5s or 9s")
        self.expect(body.get("resolution") in ("540p", "720p", "1080p", "4k"), "bad resolution")
        self.expect(body.get("aspect_ratio") in ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"), "bad ratio")
        for key, frame in (body.get("keyframes") or {}).items():
            self.expect(key in ("frame0", "frame1"), f"unknown keyframe {key}")
            self.expect(frame.keys() == {"type", "url"} and frame["type"] == "image", "keyframe {type, url}")
            self.expect(frame["url"].startswith("https://"), "keyframe images are URLs")
        task = self.new_task("video", body)
        return Reply(201, self.generation(task, "queued"))

    @route("GET", "/dream-machine/v1/generations/(?P<task_id>[^/]+)")
    def get(self, request: Request, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return Reply(404, {"detail": "Generation not found"})
        stage, _ = task.advance()
        return Reply(200, self.generation(task, stage))

    def generation(self, task, stage: str) -> dict:
        state = {"queued": "queued", "running": "dreaming", "succeeded": "completed"}.get(stage, "failed")
        reason = {"moderated": "Advanced moderation failed", "failed": self.failure_reason}.get(stage)
        assets = {"video": self.result_url(task)} if state == "completed" else None
        return {"id": task.id, "state": state, "failure_reason": reason, "assets": assets,
                "model": task.request["model"], "request": task.request, "created_at": "2026-11-24T10:00:00Z"}
