"""The official `openai` package against a live server and a real Celery worker: create, poll, list, download
(a decodable MP4, a thumbnail, a spritesheet), delete, and its typed errors."""

from __future__ import annotations

import io
import time
from decimal import Decimal
from pathlib import Path

import av
import openai
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from billing import services as billing
from tests.factories import make_key, make_user, png_bytes
from videos.models import Video
from videos.spritesheet import spritesheet_name

pytestmark = [pytest.mark.worker, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _decode(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, sum(1 for _ in container.decode(stream))


def test_openai_sdk_makes_lists_downloads_and_deletes_videos(celery_worker_process: str, tmp_path: Path) -> None:
    user = make_user("sdk", credits=1000)
    client = openai.OpenAI(base_url=f"{celery_worker_process}/v1", api_key=make_key(user)[1], max_retries=0)

    created = client.videos.create(model="sora-2", prompt="A paper boat on a stream", seconds="4", size="1280x720")
    assert (created.object, created.status, created.model, created.size) == ("video", "queued", "sora-2", "1280x720")

    done = client.videos.create_and_poll(
        model="sora-2-pro", prompt="A lighthouse at dusk, waves below", seconds="4", size="720x1280",
        input_reference=("lighthouse.png", png_bytes(720, 1280, (40, 90, 160)), "image/png"), poll_interval_ms=500)
    assert done.status == "completed", done.error
    assert (done.progress, done.model, done.seconds, done.size) == (100, "sora-2-pro", "4", "720x1280")
    assert done.completed_at >= done.created_at

    deadline = time.monotonic() + 120
    while (first := client.videos.retrieve(created.id)).status not in {"completed", "failed"}:
        assert time.monotonic() < deadline, "the first video did not finish"
        time.sleep(0.5)
    assert first.status == "completed", first.error

    page = client.videos.list(limit=1)
    assert [v.id for v in page.data] == [done.id] and page.has_more
    assert [v.id for v in client.videos.list(limit=1)] == [done.id, created.id]  # the SDK follows the cursor
    assert [v.id for v in client.videos.list(order="asc")] == [created.id, done.id]

    out = tmp_path / "out.mp4"
    content = client.videos.download_content(done.id, variant="video")
    assert content.response.headers["content-type"] == "video/mp4"
    assert f'filename="{done.id}.mp4"' in content.response.headers["content-disposition"]
    content.write_to_file(out)
    assert _decode(out) == (720, 1280, 4 * 24)
    client.videos.download_content(created.id).write_to_file(tmp_path / "first.mp4")
    assert _decode(tmp_path / "first.mp4") == (1280, 720, 4 * 24)
    thumbnail = Image.open(io.BytesIO(client.videos.download_content(done.id, variant="thumbnail").content))
    assert thumbnail.format == "JPEG"
    sheet_bytes = client.videos.download_content(done.id, variant="spritesheet").content
    sheet = Image.open(io.BytesIO(sheet_bytes))
    assert (sheet.format, sheet.size) == ("JPEG", (5 * 256, 5 * 455))  # 25 frames of a 9:16 video, 256 px wide
    assert client.videos.download_content(done.id, variant="spritesheet").content == sheet_bytes  # kept, not remade

    assert billing.credit_balance(user=user) == Decimal("840.00")  # 40 (sora-2, 4 s) + 120 (sora-2-pro, 4 s)
    deleted = client.videos.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(created.id)
    assert [v.id for v in client.videos.list()] == [done.id]
    assert billing.credit_balance(user=user) == Decimal("840.00")  # a finished video is not refunded

    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(model="sora-2", prompt="Five seconds", seconds="5")  # type: ignore[arg-type]
    assert (bad.value.param, bad.value.type) == ("seconds", "invalid_request_error")
    stranger = openai.OpenAI(base_url=f"{celery_worker_process}/v1", api_key=make_key(make_user("eve"))[1],
                             max_retries=0)
    with pytest.raises(openai.NotFoundError):
        stranger.videos.download_content(done.id)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{celery_worker_process}/v1", api_key="mcp_not-a-key", max_retries=0).videos.list()
    assert billing.credit_balance(user=user) == Decimal("840.00")

    stored = Video.objects.get(public_id=done.id)
    names = [stored.file, stored.thumbnail, spritesheet_name(stored.file)]
    assert all(default_storage.exists(name) for name in names)
    client.videos.delete(done.id)
    assert not any(default_storage.exists(name) for name in names)  # the spritesheet goes with the video
    assert client.videos.list().data == []
