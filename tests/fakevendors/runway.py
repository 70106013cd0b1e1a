"""Fake Runway API (PROTOCOLS §4, runwayml 5.24): image_to_video / text_to_video with the per-model limits
of the SDK's create params, tasks GET and DELETE. Errors are {"error": ...}."""

from __future__ import annotations

from tests.fakevendors import FakeVendor, Reply, Request, route

GEN4_RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
VEO_RATIOS = {"1280:720", "720:1280", "1080:1920", "1920:1080"}
# model -> (image_to_video ratios, text_to_video ratios or None, durations, positions, promptText required)
MODELS = {
    "gen4_turbo": (GEN4_RATIOS, None, range(2, 11), ("first",), False),
    "gen4.5": (GEN4_RATIOS, {"1280:720", "720:1280"}, range(2, 11), ("first",), True),
    "veo3.1": (VEO_RATIOS, VEO_RATIOS, (4, 6, 8), ("first", "last"), False),
    "veo3.1_fast": (VEO_RATIOS, VEO_RATIOS, (4, 6, 8), ("first", "last"), False),
}
MAX_PROMPT_UTF16 = 1000
CREDITS_PER_SECOND = {"gen4_turbo": 5, "gen4.5": 12, "veo3.1": 40, "veo3.1_fast": 15}  # ⚠ fake figures


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeRunway(FakeVendor):
    name = "runway"
    prefix = "/v1"
    failure_code = "INTERNAL.BAD_OUTPUT"

    def check_auth(self, request: Request) -> None:
        super().check_auth(request)
        self.expect_header(request, "X-Runway-Version", "2024-11-06")

    def common(self, body: dict, *, text: bool) -> tuple:
        self.expect(body.get("model") in MODELS, f"model {body.get('model')!r} not accepted")
        i2v_ratios, t2v_ratios, durations, positions, prompt_required = MODELS[body["model"]]
        ratios = t2v_ratios if text else i2v_ratios
        self.expect(ratios is not None, f"{body['model']} has no text_to_video")
        self.expect(body["ratio"] in ratios, f"ratio {body['ratio']} not accepted by {body['model']}")
        self.expect(body.get("duration", durations[-1] if text else 5) in durations,
                    f"duration {body.get('duration')} not accepted by {body['model']}")
        self.expect(isinstance(body.get("duration", 0), int), "duration is an int")
        if text or prompt_required:
            self.expect(body.get("promptText"), "promptText is required")
        if "promptText" in body:
            self.expect(0 < utf16_units(body["promptText"]) <= MAX_PROMPT_UTF16, "promptText: 1-1000 UTF-16 units")
        if "seed" in body:
            self.expect(isinstance(body["seed"], int) and 0 <= body["seed"] <= 4294967295, "seed 0-4294967295")
        return positions

    @route("POST", "/v1/image_to_video")
    def image_to_video(self, request: Request) -> Reply:
        body = request.json
        self.expect_fields(body, required={"model", "promptImage", "ratio"}, allowed={
            "promptText", "duration", "seed", "contentModeration", "audio", "negativePrompt"})
        positions = self.common(body, text=False)
        images = body["promptImage"]
        if isinstance(images, list):
            got = [i.get("position") for i in images]
            self.expect(got in (["first"], ["first", "last"]) and set(got) <= set(positions),
                        f"promptImage positions {got} not accepted by {body['model']}")
            images = [i["uri"] for i in images]
        else:
            images = [images]
        self.expect(all(i.startswith(("https://", "data:image/")) for i in images), "promptImage: https or data URI")
        return Reply(200, {"id": self.new_task("image_to_video", body).id})

    @route("POST", "/v1/text_to_video")
    def text_to_video(self, request: Request) -> Reply:
        body = request.json
        self.expect_fields(body, required={"model", "promptText", "ratio"}, allowed={
            "duration", "seed", "audio", "negativePrompt", "contentModeration"})
        self.common(body, text=True)
        return Reply(200, {"id": self.new_task("text_to_video", body).id})

    @route("GET", "/v1/tasks/(?P<task_id>[^/]+)", poll="task_id")
    def task(self, request: Request, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return Reply(404, {"error": "Task not found"})
        stage, progress = task.advance()
        body = {"id": task.id, "createdAt": "2026-11-24T10:00:00Z",
                "status": {"queued": "PENDING", "throttled": "THROTTLED", "running": "RUNNING",
                           "succeeded": "SUCCEEDED", "cancelled": "CANCELLED"}.get(stage, "FAILED")}
        # runwayml 5.24 models every status: estimatedCost while waiting or running, cost once final
        # (a failed or cancelled task is refunded: 0).
        credits = CREDITS_PER_SECOND.get(task.request["model"], 5) * task.request.get("duration", 5)
        if body["status"] in ("PENDING", "THROTTLED", "RUNNING"):
            body["estimatedCost"] = {"credits": credits}
        else:
            body["cost"] = {"credits": credits if body["status"] == "SUCCEEDED" else 0}
        if stage == "running":
            body["progress"] = (progress or 0) / 100
        if stage == "succeeded":
            body["output"] = [self.result_url(task)]
        if stage in ("failed", "moderated"):
            body["failure"] = self.failure_reason
            body["failureCode"] = "SAFETY.INPUT.TEXT" if stage == "moderated" else self.failure_code
        return Reply(200, body)

    @route("DELETE", "/v1/tasks/(?P<task_id>[^/]+)")
    def delete(self, request: Request, task_id: str) -> Reply:
        if task_id not in self.tasks:
            return Reply(404, {"error": "Task not found"})
        self.cancel_task(task_id)  # a running task is cancelled, a finished one deleted: 204 either way
        return Reply(204, b"")
