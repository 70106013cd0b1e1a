"""Fake MiniMax (PROTOCOLS §2): errors in HTTP 200 bodies, file ids resolved through /v1/files/retrieve."""

from __future__ import annotations

from tests.fakevendors import FakeVendor, Reply, Request, route

MODELS = {"MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast", "MiniMax-Hailuo-02", "T2V-01-Director", "T2V-01",
          "I2V-01-Director", "I2V-01-live", "I2V-01", "S2V-01"}
OK = {"status_code": 0, "status_msg": "success"}


def base_resp(code: int, msg: str) -> dict:
    """A MiniMax failure: HTTP 200 with a non-zero base_resp.status_code."""
    return {"base_resp": {"status_code": code, "status_msg": msg}}


class FakeMiniMax(FakeVendor):
    name = "minimax"
    failure_code = 1027

    def invalid(self, message: str) -> Reply:
        return Reply(200, base_resp(2013, f"invalid params, {message}"))

    def unauthorized(self) -> Reply:
        return Reply(200, base_resp(1004, "login fail: Please carry the API secret key in the 'Authorization' field"))

    @route("POST", "/v1/video_generation")
    def create(self, request: Request) -> Reply:
        body = request.json
        self.expect_header(request, "Content-Type", "application/json")
        self.expect_fields(body, required={"model", "prompt"}, allowed={
            "duration", "resolution", "prompt_optimizer", "fast_pretreatment", "first_frame_image",
            "last_frame_image", "subject_reference", "callback_url", "aigc_watermark"})
        self.expect(body["model"] in MODELS, f"unknown model {body['model']}")
        model, image = body["model"], "first_frame_image" in body
        self.expect(len(body["prompt"]) <= 2000, "prompt is at most 2000 characters")
        hailuo = model.startswith("MiniMax-Hailuo")
        # Omitted duration / resolution take the model's defaults (6 s; 768P for Hailuo, 720P for 01-series).
        duration = body.get("duration", 6)
        resolution = body.get("resolution", "768P" if hailuo else "720P")
        self.expect(duration in ((6, 10) if hailuo else (6,)), "duration must be the integer 6 or 10 (Hailuo)")
        allowed = {"MiniMax-Hailuo-02": ("512P", "768P", "1080P")}.get(
            model, ("768P", "1080P") if hailuo else ("720P", "1080P"))
        self.expect(resolution in allowed, f"resolution {resolution} not offered by {model}")
        self.expect(resolution != "512P" or image, "512P is image-to-video only")
        self.expect(not (resolution == "1080P" and duration == 10), "1080P is 6 s only")
        self.expect(body["model"] != "MiniMax-Hailuo-2.3-Fast" or "first_frame_image" in body, "2.3-Fast is I2V")
        if "last_frame_image" in body:
            self.expect(body["model"] == "MiniMax-Hailuo-02", "last_frame_image is Hailuo-02 only")
        for key in ("first_frame_image", "last_frame_image"):
            if key in body:
                self.expect(body[key].startswith(("data:image/", "https://")), f"{key}: URL or data URI")
        task = self.new_task("video", body)
        return Reply(200, {"task_id": task.id, "base_resp": OK})

    @route("GET", "/v1/query/video_generation", poll="task_id")
    def query(self, request: Request) -> Reply:
        task = self.tasks.get(request.query.get("task_id", ""))
        if task is None:
            return Reply(200, base_resp(2013, "invalid task_id"))
        stage, _ = task.advance()
        status = {"queued": "Queueing", "running": "Processing", "succeeded": "Success"}.get(stage, "Fail")
        body = {"task_id": task.id, "status": status, "base_resp": OK}
        if stage == "succeeded":
            body.update(file_id=f"file-{task.id}", video_width=1366, video_height=768)
        elif stage == "moderated":
            body["base_resp"] = {"status_code": 1027, "status_msg": self.failure_reason}
        elif stage == "failed":
            body["base_resp"] = {"status_code": 1000, "status_msg": self.failure_reason}
        return Reply(200, body)

    @route("GET", "/v1/files/retrieve")
    def retrieve(self, request: Request) -> Reply:
        file_id = request.query.get("file_id", "")
        task = self.tasks.get(file_id.removeprefix("file-"))
        self.expect(task is not None, f"unknown file_id {file_id}")
        return Reply(200, {"file": {"file_id": 2222, "bytes": 1024, "filename": "output.mp4",
                                    "purpose": "video_generation", "download_url": self.result_url(task)},
                           "base_resp": OK})
