"""Operators see vendor health with the vendor's raw errors, and put a disabled vendor back on sale."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_session
from videos.models import VendorState, Video
from videos.services import results, vendor_state

pytestmark = pytest.mark.django_db
RAW = "HTTP 401: Invalid API key sk-abc…"  # what the vendor said (already scrubbed of our key by the adapter)


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("op", "op@example.com", "pw-for-tests-1")


def failed_luma_video(owner):
    video = make_session(owner=owner).videos.get()
    Video.objects.filter(pk=video.pk).update(provider="luma", started_at=timezone.now())
    results.vendor_fail(video.pk, code="auth", detail=RAW)
    return Video.objects.get(pk=video.pk)


def test_the_vendor_health_page_lists_every_vendor_with_its_raw_error(client, operator, alice, alice_api):
    for _ in range(3):
        video = failed_luma_video(alice)
    client.force_login(operator)
    body = client.get(reverse("admin:videos_vendorstate_changelist")).content.decode()
    for vendor in ("kling", "luma", "minimax", "pika", "runway", "sora", "veo", "wan"):
        assert f">{vendor}<" in body
    assert "disabled" in body and "0 / 5" in body and "0% of 3" in body and "Invalid API key" in body

    state = VendorState.objects.get(vendor="luma")
    page = client.get(reverse("admin:videos_vendorstate_change", args=[state.pk])).content.decode()
    assert video.public_id in page and "Invalid API key" in page  # the recent failures, in the vendor's words

    user_view = alice_api.get(f"/videos/{video.public_id}").content.decode()
    assert "Invalid API key" not in user_view and video.error in user_view  # users get our words only


def test_mark_vendor_key_fixed_re_enables_its_models(client, operator, alice, settings):
    providers = {name: dict(conf) for name, conf in settings.PROVIDER_SETTINGS.items()}
    providers["luma"]["api_key"] = "k-luma"
    settings.PROVIDER_SETTINGS = providers
    for _ in range(3):
        vendor_state.vendor_failure_record(vendor="luma", code="auth", detail=RAW)
    state = VendorState.objects.get(vendor="luma")
    client.force_login(operator)
    models = client.get(reverse("admin:videos_videomodel_changelist") + "?provider=luma").content.decode()
    assert "unavailable" in models
    r = client.post(reverse("admin:videos_vendorstate_changelist"),
                    {"action": "mark_key_fixed", "_selected_action": [state.pk]}, follow=True)
    assert "Re-enabled: luma." in r.content.decode()
    state.refresh_from_db()
    assert (state.auth_state, state.auth_failures, state.disabled_at) == ("ok", 0, None)
