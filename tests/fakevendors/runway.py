"""Fake Runway API (PROTOCOLS §4)."""

from __future__ import annotations

from tests.fakevendors import FakeVendor, Reply, Request, route

RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}


class FakeRunway(FakeVendor):
    name = "runway"
    prefix = "/v1"
    failure_code = "INTERNAL.BAD_OUTPUT"

    def check_auth(self, request: Request) -> None:
        super().check_auth(request)
        self.expect_header(request, "X-Runway-Version", "2024-11-06")

    @route("POST", "/v1/image_to_video")
    def image_to_video(self, request: Request) -> Reply:
        body = request.json
        self.expect_fields(body, required={"model", "promptImage", "ratio"},
                           allowed={"promptText", "duration", "seed", "contentModeration"})
        self.expect(body["ratio"] in RATIOS, f"ratio {body['ratio']} not accepted")
        self.expect(isinstance(body.get("duration"), int) and 2 <= body["duration"] <= 10, "duration 2-10 int")
        images = body["promptImage"]
        if isinstance(images, list):
            self.expect(body["model"] in ("veo3.1", "veo3.1_fast") or len(images) == 1, "position last: veo3.1 only")
            self.expect([i["position"] for i in images] in (["first"], ["first", "last"]), "positions")
            images = [i["uri"] for i in images]
        else:
            images = [images]
        self.expect(all(i.startswith(("https://", "data:image/")) for i in images), "promptImage: https or data URI")
        return Reply(200, {"id": self.new_task("image_to_video", body).id})

    @route("POST", "/v1/text_to_video")
    def text_to_video(self, request: Request) -> Reply:
        body = request.json
        self.expect_fields(body, required={"model", "promptText", "ratio"}, allowed={"duration", "seed"})
        self.expect(body["model"] != "gen4_turbo", "gen4_turbo has no text_to_video")
        return Reply(200, {"id": self.new_task("text_to_video", body).id})

    @route("GET", "/v1/tasks/(?P<task_id>[^/]+)")
    def task(self, request: Request, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return Reply(404, {"error": "Task not found"})
        stage, progress = task.advance()
        body = {"id": task.id, "createdAt": "2026-11-24T10:00:00Z",
                "status": {"queued": "PENDING", "throttled": "THROTTLED", "running": "RUNNING",
                           "succeeded": "SUCCEEDED", "cancelled": "CANCELLED"}.get(stage, "FAILED")}
        if stage == "running" and progress is not None:
            body["progress"] = progress / 100
        if stage == "succeeded":
            body["output"] = [self.result_url(task)]
        if stage in ("failed", "moderated"):
            body["failure"] = self.failure_reason
            body["failureCode"] = "SAFETY.INPUT.TEXT" if stage == "moderated" else self.failure_code
        return Reply(200, body)
