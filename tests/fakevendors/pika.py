"""Fake fal.ai queue serving Pika (PROTOCOLS §9): submit, status (202 pending / 200 done), result."""

from __future__ import annotations

from tests.fakevendors import FakeVendor, Reply, Request, route

APP = "fal-ai/pika"
RATIOS = {"16:9", "9:16", "1:1", "4:5", "5:4", "3:2", "2:3"}


class FakeFal(FakeVendor):
    name = "pika"
    api_key = "fal-key-id:fal-key-secret-0123456789"

    def check_auth(self, request: Request) -> None:
        self.expect_header(request, "Authorization", f"Key {self.api_key}")

    def invalid(self, message: str) -> Reply:
        return Reply(422, {"detail": [{"loc": ["body"], "msg": message, "type": "value_error"}]})

    def unauthorized(self) -> Reply:
        return Reply(401, {"detail": "Invalid authentication credentials"})

    @route("POST", r"/fal-ai/pika/(?P<version>v2\.[25])/(?P<kind>text-to-video|image-to-video|pikaframes)")
    def submit(self, request: Request, version: str, kind: str) -> Reply:
        body = request.json
        common = {"negative_prompt", "seed", "resolution"}
        if kind == "text-to-video":
            self.expect_fields(body, required={"prompt"}, allowed=common | {"aspect_ratio", "duration"})
            self.expect(body.get("aspect_ratio", "16:9") in RATIOS, "aspect_ratio")
        elif kind == "image-to-video":
            self.expect_fields(body, required={"prompt", "image_url"}, allowed=common | {"duration"})
        else:
            self.expect_fields(body, required={"image_urls"}, allowed=common | {"prompt", "transitions"})
            self.expect(2 <= len(body["image_urls"]) <= 5, "2-5 keyframes")
            self.expect(sum(t.get("duration", 5) for t in body.get("transitions", [])) <= 25, "<= 25 s")
        self.expect(body.get("duration", 5) in (5, 10), "duration is the integer 5 or 10")
        self.expect(body.get("resolution", "720p") in ("720p", "1080p") + (("480p",) if version == "v2.5" else ()),
                    "resolution")
        task = self.new_task(kind, body)
        base = f"{self.url}/{APP}/requests/{task.id}"
        return Reply(200, {"request_id": task.id, "status": "IN_QUEUE", "status_url": f"{base}/status",
                           "response_url": base, "cancel_url": f"{base}/cancel", "queue_position": 0})

    @route("GET", rf"/{APP}/requests/(?P<request_id>[^/]+)/status", poll="request_id")
    def status(self, request: Request, request_id: str) -> Reply:
        task = self.tasks.get(request_id)
        if task is None:
            return Reply(404, {"detail": "Request not found"})
        stage, _ = task.advance()
        status = {"queued": "IN_QUEUE", "running": "IN_PROGRESS"}.get(stage, "COMPLETED")
        base = f"{self.url}/{APP}/requests/{task.id}"
        # fal-client reads `logs` from every IN_PROGRESS/COMPLETED body (null unless ?logs=1 asked for them).
        with_logs = request.query.get("logs", "").lower() in ("1", "true")
        body = {"status": status, "request_id": task.id, "response_url": base, "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel", "logs": [] if with_logs else None, "metrics": {}}
        if status == "IN_QUEUE":
            body["queue_position"] = 2
        if stage == "cancelled":
            body["error"], body["error_type"] = "Request was cancelled", "request_cancelled"
        return Reply(200 if status == "COMPLETED" else 202, body)

    @route("PUT", rf"/{APP}/requests/(?P<request_id>[^/]+)/cancel")
    def cancel(self, request: Request, request_id: str) -> Reply:
        if request_id not in self.tasks:
            return Reply(404, {"detail": "Request not found"})
        if self.cancel_task(request_id) is None:
            return Reply(400, {"status": "ALREADY_COMPLETED"})
        return Reply(202, {"status": "CANCELLATION_REQUESTED"})

    @route("GET", rf"/{APP}/requests/(?P<request_id>[^/]+)")
    def result(self, request: Request, request_id: str) -> Reply:
        task = self.tasks.get(request_id)
        self.expect(task is not None and task.stage not in ("queued", "running"), "result fetched before COMPLETED")
        if task.stage == "cancelled":
            return Reply(400, {"detail": "Request was cancelled"})
        if task.stage == "moderated":
            return Reply(422, {"detail": "Content flagged by the NSFW filter"})
        if task.stage == "failed":
            return Reply(500, {"detail": self.failure_reason})
        return Reply(200, {"video": {"url": self.result_url(task), "content_type": "video/mp4",
                                     "file_name": "out.mp4", "file_size": 1024}})
