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
    assert video.public_id in body and "Vendor said: moderation" in body
    assert video.public_id in client.get(reverse("admin:videos_video_changelist"), {"q": "luma-task-123"}).content.decode()
    page = client.get(reverse("admin:videos_video_change", args=[video.pk])).content.decode()
    assert "luma-task-123" in page


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
def _stale(video, minutes):
    from datetime import timedelta

    from django.utils import timezone

    Video.objects.filter(pk=video.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))


def test_the_stuck_filter_finds_old_unfinished_videos(client, operator, alice):
    stuck = make_session(owner=alice, prompt="stuck one").videos.get()
    fresh = make_session(owner=alice, prompt="fresh one").videos.get()
    done = make_session(owner=alice, prompt="done one").videos.get()
    Video.objects.filter(pk=done.pk).update(status=Video.Status.COMPLETED)
    _stale(stuck, 45)
    _stale(done, 45)
    client.force_login(operator)
    body = client.get(reverse("admin:videos_video_changelist"), {"stuck": "30"}).content.decode()
    assert stuck.public_id in body and fresh.public_id not in body and done.public_id not in body
    assert "stuck for more than" in body and "45 min" in body


def test_fail_and_refund_action(client, operator, alice):
    from billing import services as billing
    from billing.models import CreditEntry

    video = make_session(owner=alice).videos.get()
    done = make_session(owner=alice).videos.get()
    Video.objects.filter(pk=done.pk).update(status=Video.Status.COMPLETED)
    client.force_login(operator)
    url = reverse("admin:videos_video_changelist")
    r = client.post(url, {"action": "fail_and_refund", "_selected_action": [video.pk, done.pk]}, follow=True)
    assert "1 video(s) failed and refunded; 1 already final" in r.content.decode()
    video.refresh_from_db()
    done.refresh_from_db()
    assert video.status == Video.Status.FAILED and video.error_code == "operator" and "op" in video.error
    assert done.status == Video.Status.COMPLETED
    assert CreditEntry.objects.filter(kind="refund", video_id=video.public_id).count() == 1
    assert billing.credit_balance(user=alice) == Decimal("980.00")


def test_retry_action_sends_the_work_again(client, operator, alice, monkeypatch):
    from videos import tasks

    started, polled = [], []
    monkeypatch.setattr(tasks.video_start_task, "delay", lambda pk: started.append(pk))
    monkeypatch.setattr(tasks.video_poll_task, "delay", lambda pk: polled.append(pk))
    pending = make_session(owner=alice).videos.get()
    at_vendor = make_session(owner=alice).videos.get()
    Video.objects.filter(pk=at_vendor.pk).update(status=Video.Status.PROCESSING, vendor_task_id="t-1")
    failed = make_session(owner=alice).videos.get()
    Video.objects.filter(pk=failed.pk).update(status=Video.Status.FAILED)
    client.force_login(operator)
    client.post(reverse("admin:videos_video_changelist"),
                {"action": "retry", "_selected_action": [pending.pk, at_vendor.pk, failed.pk]})
    assert started == [pending.pk] and polled == [at_vendor.pk]


def test_a_video_links_to_its_session_ledger_and_files_and_has_no_save(client, operator, alice, settings):
    video = make_session(owner=alice).videos.get()
    Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED, file="videos/1/s/v.mp4")
    client.force_login(operator)
    body = client.get(reverse("admin:videos_video_change", args=[video.pk])).content.decode()
    assert reverse("admin:videos_generationsession_change", args=[video.session_id]) in body
    assert f"/admin/billing/creditentry/?video_id={video.public_id}" in body
    assert "/files/videos/1/s/v.mp4?expires=" in body
    assert 'name="_save"' not in body and 'name="_continue"' not in body
    ledger = client.get(f"/admin/billing/creditentry/?video_id={video.public_id}").content.decode()
    assert "charge" in ledger.lower() and f"?q={video.public_id}" in ledger  # and back to the video
    session = client.get(reverse("admin:videos_generationsession_change", args=[video.session_id])).content.decode()
    assert f"?session__id__exact={video.session_id}" in session and 'name="_save"' not in session


def test_strangers_to_the_admin_are_sent_to_log_in(client, alice):
    client.force_login(alice)  # a user, not staff
    r = client.get(reverse("admin:videos_video_changelist"))
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
