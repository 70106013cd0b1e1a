"""Videos admin: catalog price and `enabled` editable; sessions and videos visible with status, task id, error."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.factories import make_session
from videos.models import GenerationSession, Video, VideoModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("op", "op@example.com", "pw-for-tests-1")


def test_price_and_enabled_are_editable_and_nothing_else(client, operator):
    model = VideoModel.objects.get(model_id="luma-ray-2.0-flash-5s-t2v")
    client.force_login(operator)
    url = reverse("admin:videos_videomodel_change", args=[model.pk])
    body = client.get(url).content.decode()
    assert 'name="credits"' in body and 'name="enabled"' in body and 'name="vendor_model"' not in body
    r = client.post(url, {"credits": "22.50", "enabled": ""})
    model.refresh_from_db()
    assert r.status_code == 302 and model.credits == Decimal("22.50") and not model.enabled
    assert model.vendor_model == "ray-flash-2"


def test_the_catalog_list_edits_prices_inline(client, operator):
    client.force_login(operator)
    body = client.get(reverse("admin:videos_videomodel_changelist")).content.decode()
    assert "form-0-credits" in body and "form-0-enabled" in body and "simulated" in body


def test_videos_show_status_vendor_task_and_error(client, operator, alice):
    video = make_session(owner=alice).videos.get()
    Video.objects.filter(pk=video.pk).update(status="failed", vendor_task_id="luma-task-123",
                                             error="Vendor said: moderation")
    client.force_login(operator)
    body = client.get(reverse("admin:videos_video_changelist")).content.decode()
    assert video.public_id in body and "luma-task-123" in body and "Vendor said: moderation" in body
    assert client.get(reverse("admin:videos_video_change", args=[video.pk])).status_code == 200


def test_sessions_can_be_stopped_by_an_action(client, operator, alice):
    session = make_session(owner=alice, timed=True, max_videos=4)
    client.force_login(operator)
    url = reverse("admin:videos_generationsession_changelist")
    assert session.public_id in client.get(url).content.decode()
    client.post(url, {"action": "stop", "_selected_action": [session.pk]})
    session.refresh_from_db()
    assert session.status == GenerationSession.Status.STOPPED


def test_operators_see_the_vendors_raw_error_users_see_ours(client, operator, alice, alice_api, settings):
    from videos.providers import fake
    from videos.providers.base import ProviderError
    from videos.services import video_start

    fake.reset()
    settings.PROVIDERS = {"luma": "videos.providers.fake.FakeProvider"}
    raw = "luma HTTP 401: Invalid API key 'lk-1234' for account acme-prod"
    fake.FakeProvider.submit_error = ProviderError(raw, code="vendor_unavailable")
    try:
        video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
        video_start(video.pk)
    finally:
        fake.reset()
    video.refresh_from_db()
    assert (video.status, video.error_code, video.error_detail) == ("failed", "vendor_unavailable", raw)
    api = alice_api.get(f"/videos/{video.public_id}").content.decode() + alice_api.get(
        f"/videos/sessions/{video.session.public_id}").content.decode()
    assert "temporarily unavailable" in api and "refunded" in api
    assert "lk-1234" not in api and "HTTP 401" not in api and "error_detail" not in api
    client.force_login(operator)
    page = client.get(reverse("admin:videos_video_change", args=[video.pk])).content.decode()
    assert __import__("html").escape(raw) in page
