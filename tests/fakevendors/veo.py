"""Fake Gemini API Veo (PROTOCOLS §6): predictLongRunning, operations, key-protected file downloads."""

from __future__ import annotations

import re

from tests.fakevendors import FakeVendor, Reply, Request, route

MODELS = {"veo-3.1-generate-preview", "veo-3.1-fast-generate-preview", "veo-3.1-lite-generate-preview",
          "veo-3.0-generate-001", "veo-3.0-fast-generate-001", "veo-2.0-generate-001"}


def file_name(task_id: str) -> str:
    return re.sub(r"[^a-z0-9]", "", task_id.lower())


class FakeVeo(FakeVendor):
    name = "veo"
    prefix = "/v1beta"
    api_key = "AIzaFakeKey-0123456789"

    def invalid(self, message: str) -> Reply:
        return Reply(400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})

    def unauthorized(self) -> Reply:
        return Reply(400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                                     "status": "INVALID_ARGUMENT"}})

    def check_auth(self, request: Request) -> None:
        self.expect_header(request, "x-goog-api-key", self.api_key)
        self.expect("authorization" not in request.headers, "Gemini API keys go in x-goog-api-key")

    @route("POST", r"/v1beta/models/(?P<model>[^/:]+):predictLongRunning")
    def create(self, request: Request, model: str) -> Reply:
        if model not in MODELS:
            return Reply(404, {"error": {"code": 404, "message": f"models/{model} is not found for API version "
                                         "v1beta, or is not supported for predictLongRunning.", "status": "NOT_FOUND"}})
        body = request.json
        self.expect_fields(body, required={"instances", "parameters"}, allowed=set())
        (instance,) = body["instances"]
        self.expect_fields(instance, required={"prompt"}, allowed={"image", "lastFrame", "referenceImages"})
        for key in ("image", "lastFrame"):
            if key in instance:
                # The Gemini API answers inlineData with 400 "`inlineData` isn't supported by this model".
                self.expect("inlineData" not in instance[key], f"`inlineData` isn't supported by this model ({key})")
                self.expect(instance[key].keys() == {"bytesBase64Encoded", "mimeType"},
                            f"{key} is {{bytesBase64Encoded, mimeType}}")
                self.expect(instance[key]["mimeType"] in ("image/png", "image/jpeg", "image/webp"), "mimeType")
        self.expect("lastFrame" not in instance or "image" in instance, "lastFrame needs image")
        params = body["parameters"]
        # No seed, generateAudio, fps, … on the Gemini API (google-genai refuses them outside Vertex).
        self.expect_fields(params, required=set(), allowed={"aspectRatio", "resolution", "durationSeconds",
                                                             "negativePrompt", "personGeneration", "sampleCount",
                                                             "enhancePrompt"})
        self.expect(params.get("sampleCount", 1) == 1, "one video per request on the Gemini API")
        self.expect(params.get("aspectRatio", "16:9") in ("16:9", "9:16"), "aspectRatio")
        self.expect(params.get("resolution", "720p") in ("720p", "1080p", "4k"), "resolution")
        veo2 = model.startswith("veo-2")
        self.expect(params.get("durationSeconds", 8) in (range(5, 9) if veo2 else (4, 6, 8)),
                    "durationSeconds is the integer 4, 6 or 8 (Veo 2: 5-8)")
        self.expect(params.get("resolution") != "4k" or model.startswith("veo-3.1-generate"), "4k is Veo 3.1 only")
        self.expect(not veo2 or "resolution" not in params, "Veo 2 takes no resolution")
        self.expect("lastFrame" not in instance or (model.startswith("veo-3.1") and "lite" not in model),
                    "lastFrame is Veo 3.1 (not Lite) only")
        self.expect(params.get("resolution", "720p") == "720p" or params.get("durationSeconds", 8) == 8, "8 s above 720p")
        task = self.new_task(model, body)
        return Reply(200, {"name": f"models/{model}/operations/{task.id}"})

    @route("GET", r"/v1beta/models/(?P<model>[^/]+)/operations/(?P<op>[^/]+)", poll="op")
    def operation(self, request: Request, model: str, op: str) -> Reply:
        task = self.tasks.get(op)
        if task is None or task.kind != model:
            return Reply(404, {"error": {"code": 404, "message": "operation not found", "status": "NOT_FOUND"}})
        stage, _ = task.advance()
        body: dict = {"name": f"models/{model}/operations/{op}"}
        if stage in ("queued", "running"):
            return Reply(200, body)
        body["done"] = True
        if stage == "succeeded":
            # As Google reports it (its own host, a lowercase alphanumeric file name); google-genai fetches
            # files/<name>:download from its configured base, and so do we.
            uri = f"https://generativelanguage.googleapis.com/v1beta/files/{file_name(op)}:download?alt=media"
            body["response"] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                                "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]}}
        elif stage == "moderated":
            body["response"] = {"generateVideoResponse": {
                "raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["The prompt contains sensitive words."]}}
        else:
            body["error"] = {"code": 13, "message": self.failure_reason, "status": "INTERNAL"}
        return Reply(200, body)

    @route("GET", r"/v1beta/files/(?P<file>[^/:]+):download")
    def file(self, request: Request, file: str) -> Reply:
        self.expect(request.query.get("alt") == "media", "alt=media")
        if not any(file_name(t) == file for t in self.tasks):
            return Reply(404, {"error": {"code": 404, "message": "File not found", "status": "NOT_FOUND"}})
        if self.expire_results:
            return Reply(404, {"error": {"code": 404, "message": "File not found", "status": "NOT_FOUND"}})
        return Reply(200, self.video, {"Content-Type": "video/mp4"})
