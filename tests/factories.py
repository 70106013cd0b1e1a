"""`make_*` helpers for tests (healthchecks style): real rows through the real services."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from PIL import Image

from billing import services as billing
from billing.models import ApiKey
from videos import services
from videos.models import GenerationSession
from videos.schemas import GenerateIn, SessionIn


def make_user(username: str, *, credits: int | str = 1000, password: str = "pw-for-tests-1") -> User:
    user = User.objects.create_user(username=username, password=password, email=f"{username}@example.com")
    if Decimal(credits) > 0:
        billing.credits_grant(user=user, amount=Decimal(credits), key=f"test-grant:{username}", note="test")
    return user


def make_key(user: User, name: str = "test") -> tuple[ApiKey, str]:
    return billing.api_key_issue(user=user, name=name)


def make_session(*, owner: User, model: str = "luma-ray-2.0-flash-5s-t2v", prompt: str = "A sunset over the sea",
                 timed: bool = False, **fields: Any) -> GenerationSession:
    """A session made through the services (charged), as the API would."""
    payload = (SessionIn if timed else GenerateIn)(prompt=prompt, model=model, **fields)
    return services.session_start(user=owner, payload=payload)


def png_bytes(width: int = 320, height: int = 180, color: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A real PNG: a smooth two-way gradient over `color` (so renders and crops are measurable)."""
    import numpy as np

    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    base = np.asarray(color, dtype=np.float32)[None, None, :]
    pixels = np.clip(base * 0.5 + np.concatenate([x * 127 + 0 * y, y * 127 + 0 * x, (x + y) * 60], axis=2), 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def data_uri(data: bytes, content_type: str = "image/png") -> str:
    import base64

    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
