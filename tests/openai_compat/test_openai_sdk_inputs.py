"""What the `openai` SDK actually sends for each kind of input_reference, and its typed errors (no worker needed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from billing import services as billing
from tests.factories import data_uri, make_key, make_user, png_bytes
from videos.models import Video

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PORTRAIT = png_bytes(720, 1280, (90, 30, 120))


@pytest.fixture
def image_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PORTRAIT)))
            self.end_headers()
            self.wfile.write(PORTRAIT)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def user(transactional_db: None) -> Any:
    return make_user("sdkuser", credits=1000)


@pytest.fixture
def client(user: Any, live_server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(user)[1], max_retries=2)


def _head_image(video_id: str) -> Image.Image:
    name = Video.objects.get(public_id=video_id).session.params["head_image"]
    with default_storage.open(name) as handle:
        image = Image.open(handle)
        image.load()
    return image


@pytest.mark.parametrize("kind", ["upload", "data_uri", "url"])
def test_every_input_reference_form_reaches_the_session(client: openai.OpenAI, image_server: str, settings: Any,
                                                         kind: str) -> None:
    settings.IMAGE_FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    if kind == "upload":
        video = client.videos.create(model="sora-2", prompt="It starts to rain",
                                     input_reference=("frame.png", PORTRAIT, "image/png"))
    else:  # this SDK's create() takes only files there: the object form goes as extra_body (input_reference[image_url])
        url = data_uri(PORTRAIT) if kind == "data_uri" else f"{image_server}/frame.png"
        video = client.videos.create(model="sora-2", prompt="It starts to rain",
                                     extra_body={"input_reference": {"image_url": url}})
    assert (video.status, video.size) == ("queued", "720x1280")
    assert _head_image(video.id).size == (720, 1280)


def test_sdk_errors_are_typed_and_nothing_is_charged(client: openai.OpenAI, user: Any, live_server: Any) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(model="sora-2", prompt="x", extra_body={"input_reference": {"file_id": "file_abc"}})
    assert (bad.value.param, bad.value.code) == ("input_reference", "invalid_parameter")
    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(model="sora-2", prompt="x", size="1920x1920")  # type: ignore[arg-type]
    assert bad.value.param == "size"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("vid_000000000000000000000000")
    poor = make_user("poor", credits=1)
    broke = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(poor)[1], max_retries=2)
    with pytest.raises(openai.RateLimitError) as quota:
        broke.videos.create(model="sora-2-pro", prompt="Too dear")
    assert quota.value.code == "insufficient_quota"
    assert billing.credit_balance(user=user) == Decimal(1000) and billing.credit_balance(user=poor) == Decimal(1)
    assert not Video.objects.exists()


def test_the_readme_curl_form_upload(user: Any, live_server: Any, tmp_path: Any) -> None:
    import json
    import shutil
    import subprocess

    if not shutil.which("curl"):
        pytest.skip("curl runs the README's example")
    image = tmp_path / "start.png"
    image.write_bytes(png_bytes(1280, 720))
    result = subprocess.run(
        ["curl", "-sS", f"{live_server.url}/v1/videos", "-H", f"Authorization: Bearer {make_key(user)[1]}",
         "-F", "model=sora-2", "-F", "prompt=A paper boat", "-F", "seconds=4", "-F", "size=1280x720",
         "-F", f"input_reference=@{image}"], capture_output=True, text=True, timeout=60, check=True)
    body = json.loads(result.stdout)
    assert (body["object"], body["status"], body["size"]) == ("video", "queued", "1280x720")
    assert _head_image(body["id"]).size == (1280, 720)
