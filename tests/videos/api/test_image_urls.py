"""Images by URL through the API: fetched by the service before charging, first frame = the image."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator

import av
import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image
import io

from tests.factories import png_bytes
from videos.models import GenerationSession, Video
from videos.services.work import video_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def image_server() -> Iterator[str]:
    served = {"/tiger.png": png_bytes(1280, 720, (30, 140, 60)), "/portrait.png": png_bytes(720, 1280),
              "/notes.txt": b"not an image at all"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = served.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_allow_listed_image_url_becomes_the_first_frame(alice_api, image_server, settings) -> None:
    settings.IMAGE_FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    r = alice_api.post("/videos/generate", {"prompt": "static shot", "model": "wan-wan2.2-i2v-flash-5s-480p",
                                            "head_image": f"{image_server}/tiger.png"})
    assert r.status_code == 201, r.content
    video = Video.objects.get(public_id=r.json()["video_id"])
    video_start(video.pk)
    video.refresh_from_db()
    with default_storage.open(video.file) as handle, av.open(handle) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    expected = np.asarray(Image.open(io.BytesIO(png_bytes(1280, 720, (30, 140, 60)))).convert("RGB")
                          .resize((video.width, video.height))).astype(float)
    psnr = 10 * np.log10(255**2 / np.mean((first - expected) ** 2))
    assert psnr >= 30  # the first frame is the image (cover-fitted), through H.264


@pytest.mark.parametrize("path, code", [("/notes.txt", "unsupported_image_format"), ("/missing.png", "image_fetch_failed")])
def test_a_bad_image_url_is_refused_before_charging(alice, alice_api, image_server, settings, path, code) -> None:
    settings.IMAGE_FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    r = alice_api.post("/videos/generate", {"prompt": "x", "model": "wan-wan2.2-i2v-flash-5s-480p",
                                            "image": f"{image_server}{path}"})
    assert r.status_code == 400 and r.json()["error"] == {**r.json()["error"], "field": "head_image", "code": code}
    assert not GenerationSession.objects.filter(owner=alice).exists()
    assert alice_api.get("/credits").json()["remaining_credits"] == 1000.0


def test_loopback_is_refused_unless_allow_listed(alice, alice_api, image_server, settings) -> None:
    settings.IMAGE_FETCH_ALLOW_HOSTS = []
    r = alice_api.post("/videos/generate", {"prompt": "x", "model": "wan-wan2.2-i2v-flash-5s-480p",
                                            "image": f"{image_server}/tiger.png"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "forbidden_address"
    assert not GenerationSession.objects.filter(owner=alice).exists()
