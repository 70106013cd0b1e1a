"""Fake Kling API (PROTOCOLS §5): verifies the HS256 JWT and the create/poll path pairing, and keeps the
caller's `external_task_id`: unique per account (a second create with it is refused), and the single-task query
takes it in place of the task id ("choose either task_id or external_task_id", Kling API reference)."""

from __future__ import annotations

import time
import uuid

import jwt

from tests.fakevendors import FakeVendor, Problem, Reply, Request, route

MODELS = {"kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-master", "kling-v2-1", "kling-v2-1-master",
          "kling-v2-5-turbo", "kling-v2-6"}


def envelope(code: int, message: str, data: dict | None = None) -> dict:
    return {"code": code, "message": message, "request_id": str(uuid.uuid4()), "data": data}


class FakeKling(FakeVendor):
    name = "kling"
    api_key = "ak-test-access-key-1234"
    secret_key = "sk-test-secret-key-5678-0123456789abcdef"

    def __init__(self) -> None:
        super().__init__()
        self.external: dict[str, str] = {}  # external_task_id -> task id
        self.create_delay = 0.0
        self.lost_creates = 0  # the next N creates make no task and are answered late (lost before Kling)

    def check_auth(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        self.expect(auth.startswith("Bearer "), "Authorization: Bearer <jwt>")
        token = auth.removeprefix("Bearer ")
        self.expect(jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}, "JWT header")
        try:  # signature, exp in the future, nbf in the past: what any JWT verifier checks, nothing stricter
            claims = jwt.decode(token, self.secret_key, algorithms=["HS256"],
                                options={"require": ["iss", "exp", "nbf"]})
        except jwt.PyJWTError as e:
            raise Problem(f"JWT refused: {e}") from None
        self.expect(claims["iss"] == self.api_key, "iss must be the access key")
        self.expect(claims["exp"] - time.time() <= 24 * 3600, "exp within a day")

    def invalid(self, message: str) -> Reply:
        return Reply(400, envelope(1201, message))

    def unauthorized(self) -> Reply:
        return Reply(401, envelope(1002, "Authorization is invalid"))  # 1000-1004: the auth family

    def create(self, request: Request, kind: str) -> Reply:
        body = request.json
        allowed = {"negative_prompt", "cfg_scale", "mode", "duration", "callback_url", "external_task_id",
                   "camera_control", "sound", "watermark_info"}
        if kind == "image2video":
            self.expect_fields(body, required={"model_name", "image"}, allowed=allowed | {"prompt", "image_tail"})
            for key in ("image", "image_tail"):
                if key in body:
                    self.expect(not body[key].startswith("data:"), f"{key}: raw base64 without the data: prefix")
        else:
            self.expect_fields(body, required={"model_name", "prompt"}, allowed=allowed | {"aspect_ratio"})
            self.expect(body.get("aspect_ratio", "16:9") in ("16:9", "9:16", "1:1"), "aspect_ratio")
        self.expect(body["model_name"] in MODELS, "unknown model_name")
        external = body.get("external_task_id")
        if external:
            self.expect(isinstance(external, str), "external_task_id is a string")
            if external in self.external:  # Kling: "must be unique within a single user account"
                return self.invalid(f"external_task_id {external} already exists")
        self.expect(body.get("duration") in ("5", "10"), "duration is the string 5 or 10")
        self.expect(body.get("mode", "std") in ("std", "pro"), "mode std|pro")
        if "cfg_scale" in body:
            self.expect(0 <= body["cfg_scale"] <= 1 and not body["model_name"].startswith("kling-v2"), "cfg_scale")
        if self.lost_creates:
            self.lost_creates -= 1
            return Reply(504, envelope(5002, "gateway timeout"), delay=self.create_delay)
        task = self.new_task(kind, body)
        if external:
            self.external[external] = task.id
        # create_delay: the task exists at once but the answer comes late (a client read timeout)
        return Reply(200, envelope(0, "SUCCEED", self.data(task, "submitted")), delay=self.create_delay)

    @route("POST", "/v1/videos/text2video")
    def text2video(self, request: Request) -> Reply:
        return self.create(request, "text2video")

    @route("POST", "/v1/videos/image2video")
    def image2video(self, request: Request) -> Reply:
        return self.create(request, "image2video")

    @route("GET", "/v1/videos/(?P<kind>text2video|image2video)/(?P<task_id>[^/]+)", poll="task_id")
    def query(self, request: Request, kind: str, task_id: str) -> Reply:
        task = self.tasks.get(self.external.get(task_id, task_id))
        if task is None or task.kind != kind:
            return Reply(404, envelope(1203, "task not found"))
        stage, _ = task.advance()
        status = {"queued": "submitted", "running": "processing", "succeeded": "succeed"}.get(stage, "failed")
        return Reply(200, envelope(0, "SUCCEED", self.data(task, status)))

    def data(self, task, status: str) -> dict:
        data = {"task_id": task.id, "task_status": status, "created_at": 1764000000000, "updated_at": 1764000000000}
        if task.request.get("external_task_id"):  # task_info: only when the create set one
            data["task_info"] = {"external_task_id": task.request["external_task_id"]}
        if status == "failed":
            data["task_status_msg"] = ("Failure to pass the risk control system" if task.stage == "moderated"
                                       else self.failure_reason)
        if status == "succeed":
            data["task_result"] = {"videos": [{"id": "v1", "url": self.result_url(task), "duration": "5.1"}]}
        return data
