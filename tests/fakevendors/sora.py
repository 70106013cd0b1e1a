"""Fake OpenAI Videos API (PROTOCOLS §7, openai 3.57): create as JSON or multipart/form-data (the SDK's way),
video objects, key-protected /content. Errors in the OpenAI envelope."""

from __future__ import annotations

import io

from PIL import Image

from tests.fakevendors import FakeVendor, Reply, Request, route

SIZES = {"720x1280", "1280x720", "1024x1792", "1792x1024"}


class FakeSora(FakeVendor):
    name = "sora"
    prefix = "/v1"
    api_key = "sk-proj-fakeOpenAIkey0123456789"

    def invalid(self, message: str) -> Reply:
        return Reply(400, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                     "code": None}})

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                     "param": None, "code": "invalid_api_key"}})

    def body(self, request: Request) -> dict:
        """The create body, JSON or multipart (fields, `input_reference[image_url]`, or an uploaded file)."""
        if request.content_type == "application/json":
            return request.json
        self.expect(request.content_type == "multipart/form-data", f"content type {request.content_type!r}")
        body: dict = {}
        for name, value in request.form().items():
            if name.startswith("input_reference["):
                body.setdefault("input_reference", {})[name[len("input_reference["):-1]] = value
            else:
                body[name] = value
        return body

    @route("POST", "/v1/videos")
    def create(self, request: Request) -> Reply:
        body = self.body(request)
        self.expect_fields(body, required={"prompt"}, allowed={"model", "seconds", "size", "input_reference"})
        self.expect(body.get("model", "sora-2").startswith(("sora-2", "sora-2-pro")), "model")
        self.expect(body.get("seconds", "4") in ("4", "8", "12"), "seconds is the string 4, 8 or 12")
        self.expect(body.get("size", "720x1280") in SIZES, "size like 1280x720")
        self.expect(body.get("size") not in ("1024x1792", "1792x1024") or body["model"].startswith("sora-2-pro"),
                    "1024/1792 sizes are sora-2-pro only")
        reference = body.get("input_reference")
        if isinstance(reference, tuple):  # an uploaded file: an image whose size must equal `size`
            self.expect(reference[1] in ("image/png", "image/jpeg", "image/webp"), "input_reference: an image")
            with Image.open(io.BytesIO(reference[2])) as img:
                got = f"{img.width}x{img.height}"
            self.expect(got == body.get("size", "720x1280"),
                        f"Inpaint image must match the requested width and height ({got} != {body.get('size')})")
        elif reference is not None:
            self.expect(reference.keys() in ({"image_url"}, {"file_id"}), "input_reference {image_url} or {file_id}")
            if "image_url" in reference:
                self.expect(reference["image_url"].startswith(("https://", "data:image/")), "image_url: URL or data")
        task = self.new_task("video", {k: v for k, v in body.items() if not isinstance(v, tuple)})
        return Reply(200, self.video_object(task, "queued", 0))

    @route("GET", "/v1/videos/(?P<video_id>[^/]+)", poll="video_id")
    def retrieve(self, request: Request, video_id: str) -> Reply:
        task = self.tasks.get(video_id)
        if task is None:
            return Reply(404, {"error": {"message": "Video not found", "type": "invalid_request_error",
                                         "param": None, "code": None}})
        stage, progress = task.advance()
        return Reply(200, self.video_object(task, stage, progress))

    @route("GET", "/v1/videos/(?P<video_id>[^/]+)/content")
    def content(self, request: Request, video_id: str) -> Reply:
        self.expect(video_id in self.tasks and self.tasks[video_id].stage == "succeeded", "video not completed")
        self.expect(request.query.get("variant", "video") == "video", "variant video (thumbnail/spritesheet unserved)")
        if self.expire_results:
            return Reply(404, {"error": {"message": "Video content has expired", "type": "invalid_request_error"}})
        return Reply(200, self.video, {"Content-Type": "video/mp4"})

    def video_object(self, task, stage: str, progress: int | None) -> dict:
        status = {"queued": "queued", "running": "in_progress", "succeeded": "completed"}.get(stage, "failed")
        body = {"id": task.id, "object": "video", "model": task.request.get("model", "sora-2"), "status": status,
                "progress": 100 if status == "completed" else (progress or 0), "created_at": 1764000000,
                "seconds": task.request.get("seconds", "4"), "size": task.request.get("size", "720x1280")}
        if status == "completed":
            body.update(completed_at=1764000100, expires_at=1764086400)
        if stage == "failed":
            body["error"] = {"code": "internal_error", "message": self.failure_reason}
        if stage == "moderated":
            body["error"] = {"code": "moderation_blocked", "message": "Your request was blocked by our moderation system."}
        return body
