"""The `mcpvideo` client against a live server (no worker needed): typed errors, images as data URIs, reads."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcpvideo import (
    AuthenticationError,
    Client,
    InsufficientCredits,
    NotFound,
    RateLimited,
    ValidationError,
)

from billing import services as billing
from tests.factories import make_key, make_user, png_bytes
from videos.models import GenerationSession, Video


@pytest.fixture
def user(transactional_db: None) -> Any:
    return make_user("carol", credits=500)


@pytest.fixture
def client(user: Any, live_server: Any) -> Client:
    return Client(api_key=make_key(user)[1], base_url=f"{live_server.url}/api/v3", max_retries=0)


def test_the_package_needs_no_django() -> None:
    code = "import sys, mcpvideo, mcpvideo.cli; assert not any(m.startswith('django') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_bad_input_raises_validation_error_naming_the_field(client: Client, user: Any) -> None:
    with pytest.raises(ValidationError) as error:
        client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="A sunset", duration=7)
    assert (error.value.field, error.value.status) == ("duration", 400)
    with pytest.raises(ValidationError) as error:
        client.generate(model="no-such-model", prompt="A sunset")
    assert error.value.field == "model"
    assert billing.credit_balance(user=user) == Decimal(500)
    assert not Video.objects.exists()


def test_wrong_key_and_unknown_ids(client: Client, live_server: Any) -> None:
    with pytest.raises(AuthenticationError):
        Client(api_key="mcp_wrong", base_url=f"{live_server.url}/api/v3", max_retries=0).credits()
    with pytest.raises(NotFound):
        client.sessions.get("ses_nope")
    with pytest.raises(NotFound):
        client.video("vid_nope")
    with pytest.raises(ValueError, match="API key"):
        Client(api_key="", base_url=live_server.url)


def test_insufficient_credits(live_server: Any, transactional_db: None) -> None:
    poor = make_user("poor", credits=5)
    client = Client(api_key=make_key(poor)[1], base_url=f"{live_server.url}/api/v3", max_retries=0)
    with pytest.raises(InsufficientCredits) as error:
        client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="Too dear")
    assert error.value.status == 402
    assert client.credits()["remaining_credits"] == 5.0


def test_rate_limited_carries_retry_after(client: Client, settings: Any) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 1
    client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="One")
    with pytest.raises(RateLimited) as error:
        client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="Two")
    assert error.value.status == 429 and 0 < error.value.retry_after <= 60
    assert Video.objects.count() == 1


def test_generate_sends_a_local_image_as_a_data_uri_once(client: Client, user: Any, tmp_path: Path) -> None:
    image = tmp_path / "start.png"
    image.write_bytes(png_bytes(1280, 720))
    video = client.generate(model="luma-ray-2.0-i2v-5s", prompt="The scene comes alive", image=image)
    assert video.status in {"pending", "processing"} and video.model == "luma-ray-2.0-i2v-5s"
    session = GenerationSession.objects.get(public_id=video.session_id)
    assert session.params["head_image"].endswith("/head.png")
    assert billing.credit_balance(user=user) == Decimal(455)
    page = client.history()
    assert [v.id for v in page] == [video.id] and page.total_count == 1
    with pytest.raises(FileNotFoundError):
        client.generate(model="luma-ray-2.0-i2v-5s", prompt="x", image=tmp_path / "missing.png")


def test_models_and_credits(client: Client, live_server: Any) -> None:
    assert Client(api_key="mcp_x", base_url=live_server.url).base_url == f"{live_server.url}/api/v3"
    models = {m["model_id"]: m for m in client.models()}
    assert models["sora-2-pro"]["available"] == "simulated"
    credits = client.credits()
    assert credits["remaining_credits"] == 500.0


def test_keyframes_from_local_files(client: Client, tmp_path: Path) -> None:
    head, tail = tmp_path / "a.png", tmp_path / "b.jpg"
    head.write_bytes(png_bytes(1280, 720, (200, 40, 40)))
    tail.write_bytes(_jpeg(1280, 720))
    video = client.generate(model="pika-v2.2-5s-720p-kf2v", prompt="From red to blue", image=head, tail_image=tail)
    params = GenerationSession.objects.get(public_id=video.session_id).params
    assert params["head_image"].endswith("/head.png") and params["tail_image"].endswith("/tail.jpg")


def test_a_retried_generate_with_the_same_idempotency_key_is_charged_once(client: Client, user: Any) -> None:
    first = client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="Once", idempotency_key="order-42")
    again = client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="Once", idempotency_key="order-42")
    assert again.id == first.id
    assert billing.credit_balance(user=user) == Decimal(480)
    with pytest.raises(ValidationError) as error:
        client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="Something else", idempotency_key="order-42")
    assert error.value.field == "Idempotency-Key"


def _jpeg(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 60, 220)).save(out, "JPEG")
    return out.getvalue()



def test_wait_raises_typed_errors_for_a_failed_or_unfinished_video(client: Client, user: Any) -> None:
    from mcpvideo import GenerationFailed, WaitTimeout

    from videos import services

    pending = client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="Still waiting")
    with pytest.raises(WaitTimeout):
        pending.wait(timeout=0)
    doomed = client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="Will fail")
    services.video_fail(Video.objects.get(public_id=doomed.id).pk, error="The vendor refused it.", code="moderation")
    seen: list[str] = []
    with pytest.raises(GenerationFailed) as failed:
        doomed.wait(on_progress=lambda v: seen.append(v.status), interval=0.1)
    assert (failed.value.code, failed.value.message, seen[-1]) == ("moderation", "The vendor refused it.", "failed")
    assert billing.credit_balance(user=user) == Decimal(480)  # the failed one was refunded
