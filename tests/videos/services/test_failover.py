"""Failover after acceptance: a vendor that fails an accepted job for a transient reason hands the video to the
next model of its chain, at most once per model, and the ledger shows every step (refund, then the new charge)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.fakevendors import vendor_mp4
from tests.factories import make_session
from videos import lifecycle
from videos.models import Video, VideoModel
from videos.providers import fake
from videos.providers.base import JobStatus
from videos.services import video_poll, video_start

pytestmark = pytest.mark.django_db
Stage = Video.Stage
A, B, C = "luma-ray-2.0-flash-5s-t2v", "runway-gen-4.5", "kling-v1-6-std-5s-720p-t2v"  # 5s, 720p, 16:9 all


@pytest.fixture
def vendors(settings, monkeypatch, tmp_path):
    """luma, runway and kling answered by the in-memory FakeProvider; `failing[model_id]` = the code its polls
    fail with (a job the vendor accepted, then failed). Anything else completes with a real MP4."""
    fake.reset()
    settings.PROVIDERS = dict.fromkeys(("luma", "runway", "kling"), "videos.providers.fake.FakeProvider")
    fake.FakeProvider.result_bytes = vendor_mp4(tmp_path, width=320, height=180, duration=1.0)
    failing: dict[str, str] = {}

    def poll(self, task_id, job):
        fake.polled.append(task_id)
        if job.model_id in failing:
            return JobStatus(state=JobStatus.FAILED, error_code=failing[job.model_id], error="HTTP 503 overloaded")
        return JobStatus(state=JobStatus.COMPLETED, result_url="fake://result")

    monkeypatch.setattr(fake.FakeProvider, "poll", poll)
    events: list[tuple[str, str]] = []
    from webhooks import services as webhooks

    monkeypatch.setattr(webhooks, "event_emit", lambda *, event, obj: events.append((event, obj.pk)))
    yield failing, events
    fake.reset()


def _drive(video: Video) -> Video:
    """Do what the workers do (start a queued video, poll a submitted one) until the video is final."""
    for _ in range(30):
        video.refresh_from_db()
        if video.stage in lifecycle.FINAL:
            return video
        if video.stage in (Stage.QUEUED, Stage.DISPATCHED):
            video_start(video.pk)
        else:
            Video.objects.filter(pk=video.pk).update(next_poll_at=None)
            video_poll(video.pk)
    raise AssertionError(f"{video.public_id} never finished: {video.stage}")


def _ledger(video: Video) -> list[tuple[str, Decimal, str]]:
    rows = CreditEntry.objects.filter(video_id=video.public_id).order_by("id")
    return [(e.kind, e.delta, e.key) for e in rows]


def _price(model_id: str) -> Decimal:
    return VideoModel.objects.get(model_id=model_id).price_for(5)


def test_a_chain_fails_over_twice_and_completes_on_the_third_model(alice, vendors) -> None:
    failing, events = vendors
    failing.update({A: "vendor_unavailable", B: "timeout"})
    before = credit_balance(user=alice)
    video = make_session(owner=alice, model=A, fallback_models=[B, C]).videos.get()
    video = _drive(video)

    assert video.stage == Stage.DONE and video.status == "completed" and video.file
    assert (video.model.model_id, video.provider) == (C, "kling")
    assert [(a["model"], a["vendor"], a["error_code"]) for a in video.previous_attempts] == [
        (A, "luma", "vendor_unavailable"), (B, "runway", "timeout")]
    pid = video.public_id
    assert _ledger(video) == [
        ("charge", -_price(A), f"video:{pid}:charge"), ("refund", _price(A), f"video:{pid}:refund"),
        ("charge", -_price(B), f"video:{pid}:charge:1"), ("refund", _price(B), f"video:{pid}:refund:1"),
        ("charge", -_price(C), f"video:{pid}:charge:2")]
    assert credit_balance(user=alice) == before - _price(C)
    assert video.credits_used == _price(C)
    assert [j.model_id for j in fake.submitted] == [A, B, C]  # each model tried once
    assert ("video.failed", video.pk) not in events and ("video.completed", video.pk) in events


def test_the_api_shows_the_attempts_and_what_was_spent(alice, alice_api, vendors) -> None:
    failing, _ = vendors
    failing[A] = "result_expired"
    answer = alice_api.post("/videos/generate", {"prompt": "A lighthouse", "model": A, "fallback_models": [C]})
    assert answer.status_code == 201, answer.content
    video = _drive(Video.objects.get(public_id=answer.json()["video_id"]))
    body = alice_api.get(f"/videos/{video.public_id}").json()
    body = body.get("video", body)
    assert body["status"] == "completed" and body["model"] == C and body["provider"] == "kling"
    assert [(a["model"], a["vendor"], a["error_code"]) for a in body["attempts"]] == [(A, "luma", "result_expired")]
    assert body["credits_used"] == float(_price(C))


def test_a_moderation_failure_does_not_fail_over(alice, vendors) -> None:
    failing, events = vendors
    failing[A] = "moderation"
    before = credit_balance(user=alice)
    video = _drive(make_session(owner=alice, model=A, fallback_models=[B]).videos.get())
    assert video.stage == Stage.FAILED and video.error_code == "moderation"
    assert video.model.model_id == A and video.previous_attempts == []
    assert [k for k, _, _ in _ledger(video)] == ["charge", "refund"]
    assert credit_balance(user=alice) == before
    assert [j.model_id for j in fake.submitted] == [A]
    assert ("video.failed", video.pk) in events


def test_a_fallback_the_user_cannot_afford_fails_and_refunds(alice, vendors) -> None:
    failing, _ = vendors
    failing[A] = "vendor_unavailable"
    video = make_session(owner=alice, model=A, fallback_models=[B]).videos.get()  # B costs 60, A 20
    from billing.services import credits_charge

    credits_charge(user=alice, amount=credit_balance(user=alice) - Decimal("30"), key="spend-it")  # 30 left
    video = _drive(video)
    assert video.stage == Stage.FAILED and video.error_code == "vendor_unavailable"
    assert video.model.model_id == A
    pid = video.public_id
    assert _ledger(video) == [("charge", -_price(A), f"video:{pid}:charge"),
                              ("refund", _price(A), f"video:{pid}:refund")]
    assert credit_balance(user=alice) == Decimal("30") + _price(A)  # refunded, never charged for B, never < 0
    assert [j.model_id for j in fake.submitted] == [A]


def test_the_operators_default_fallback_is_followed_model_by_model(alice, vendors) -> None:
    failing, _ = vendors
    failing.update({A: "capacity", B: "vendor_unavailable"})
    models = {m.model_id: m for m in VideoModel.objects.filter(model_id__in=[A, B, C])}
    VideoModel.objects.filter(model_id=A).update(fallback=models[B])
    VideoModel.objects.filter(model_id=B).update(fallback=models[C])
    VideoModel.objects.filter(model_id=C).update(fallback=models[A])  # a loop: A is never tried twice
    failing[C] = "vendor_unavailable"
    video = _drive(make_session(owner=alice, model=A).videos.get())
    assert video.stage == Stage.FAILED and video.model.model_id == C
    assert [a["model"] for a in video.previous_attempts] == [A, B]
    assert [j.model_id for j in fake.submitted] == [A, B, C]
    pid = video.public_id
    assert [e[2] for e in _ledger(video)] == [f"video:{pid}:charge", f"video:{pid}:refund", f"video:{pid}:charge:1",
                                             f"video:{pid}:refund:1", f"video:{pid}:charge:2",
                                             f"video:{pid}:refund:2"]
    assert credit_balance(user=alice) == Decimal(1000)


def test_a_request_chain_overrides_the_operators_default(alice, vendors) -> None:
    failing, _ = vendors
    failing[A] = "vendor_unavailable"
    VideoModel.objects.filter(model_id=A).update(fallback=VideoModel.objects.get(model_id=B))
    video = _drive(make_session(owner=alice, model=A, fallback_models=[C]).videos.get())
    assert video.stage == Stage.DONE and video.model.model_id == C


def test_catalog_sync_keeps_the_operators_fallback(alice) -> None:
    from videos.catalog import catalog_sync

    VideoModel.objects.filter(model_id=A).update(fallback=VideoModel.objects.get(model_id=C))
    catalog_sync(VideoModel)
    assert VideoModel.objects.get(model_id=A).fallback.model_id == C


@pytest.mark.parametrize(("fallbacks", "why"), [
    (["no-such-model"], "Unknown model"),
    (["minimax-hailuo-02-6s-768p-t2v"], "not 5s"),  # makes 6s, not this request's 5s
    (["runway-gen-4.5", "runway-gen-4.5"], "twice"),
    ([A], "twice"),  # the request's own model
])
def test_intake_refuses_a_fallback_that_cannot_take_the_request(alice, alice_api, fallbacks, why) -> None:
    before = credit_balance(user=alice)
    answer = alice_api.post("/videos/generate", {"prompt": "A lighthouse", "model": A, "fallback_models": fallbacks})
    assert answer.status_code == 422, answer.content
    error = answer.json()["error"]
    assert error["field"] == "fallback_models" and why in error["message"]
    assert credit_balance(user=alice) == before and not Video.objects.filter(owner=alice).exists()


def test_our_deadline_fails_over_and_cancels_the_job_left_at_the_first_vendor(alice, vendors, monkeypatch) -> None:
    cancelled: list[str] = []
    monkeypatch.setattr(fake.FakeProvider, "cancel", lambda self, task_id, job: cancelled.append(task_id) or True,
                        raising=False)
    video = make_session(owner=alice, model=A, fallback_models=[C]).videos.get()
    video_start(video.pk)
    video.refresh_from_db()
    first_task = video.vendor_task_id
    assert video.stage == Stage.SUBMITTED and first_task
    Video.objects.filter(pk=video.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    video = _drive(video)
    assert video.stage == Stage.DONE and video.model.model_id == C
    assert [(a["model"], a["error_code"]) for a in video.previous_attempts] == [(A, "timeout")]
    assert cancelled == [first_task]
    assert video.deadline_at > timezone.now()  # the new attempt has its own deadline


def test_an_operator_sets_the_default_fallback_in_the_admin(client, alice, vendors) -> None:
    from django.contrib.auth.models import User
    from django.urls import reverse

    failing, _ = vendors
    failing[A] = "vendor_unavailable"
    client.force_login(User.objects.create_superuser("op", "op@example.com", "pw-for-tests-1"))
    model, target = VideoModel.objects.get(model_id=A), VideoModel.objects.get(model_id=C)
    url = reverse("admin:videos_videomodel_change", args=[model.pk])
    assert 'name="fallback"' in client.get(url).content.decode()
    answer = client.post(url, {"credits": str(model.credits), "enabled": "on", "fallback": str(target.pk)})
    assert answer.status_code == 302
    video = _drive(make_session(owner=alice, model=A).videos.get())
    assert video.stage == Stage.DONE and video.model.model_id == C


def test_a_video_cancelled_after_failover_refunds_the_new_charge_once(alice, vendors) -> None:
    from videos.services import video_fail

    failing, events = vendors
    failing[A] = "vendor_unavailable"
    before = credit_balance(user=alice)
    video = make_session(owner=alice, model=A, fallback_models=[B]).videos.get()
    video_start(video.pk)
    Video.objects.filter(pk=video.pk).update(next_poll_at=None)
    video_poll(video.pk)  # A fails: queued again for B, charged for B
    video.refresh_from_db()
    assert video.stage == Stage.QUEUED and video.status == "pending" and video.model.model_id == B
    assert ("video.failed", video.pk) not in events
    for _ in range(2):  # a duplicate cancel changes nothing
        video_fail(video.pk, error="Cancelled.", code="cancelled")
    pid = video.public_id
    assert _ledger(video) == [
        ("charge", -_price(A), f"video:{pid}:charge"), ("refund", _price(A), f"video:{pid}:refund"),
        ("charge", -_price(B), f"video:{pid}:charge:1"), ("refund", _price(B), f"video:{pid}:refund:1")]
    assert credit_balance(user=alice) == before


def test_the_dashboard_card_says_which_models_the_video_failed_over_from(client, alice, vendors) -> None:
    failing, _ = vendors
    failing[A] = "vendor_unavailable"
    video = _drive(make_session(owner=alice, model=A, fallback_models=[C]).videos.get())
    client.force_login(alice)
    from django.urls import reverse

    body = client.get(reverse("videos:history")).content.decode()
    assert f"Failed over from {A} (vendor_unavailable)" in body
    assert VideoModel.objects.get(model_id=C).display_name in body
    body = client.get(reverse("videos:video-detail", args=[video.public_id])).content.decode()
    assert f"Failed over from {A} (vendor_unavailable)" in body


@pytest.mark.parametrize("code", ["vendor_unavailable", "vendor_error"])
def test_a_late_failure_of_the_first_job_does_not_touch_the_new_attempt(alice, vendors, code) -> None:
    from videos.services import vendor_fail

    failing, _ = vendors
    failing[A] = "vendor_unavailable"
    video = make_session(owner=alice, model=A, fallback_models=[B, C]).videos.get()
    video_start(video.pk)
    video.refresh_from_db()
    first_task = video.vendor_task_id
    Video.objects.filter(pk=video.pk).update(next_poll_at=None)
    video_poll(video.pk)  # A fails: queued for B
    failing.clear()
    video_start(video.pk)  # B accepts it
    video.refresh_from_db()
    assert video.stage == Stage.SUBMITTED and video.model.model_id == B and video.vendor_task_id != first_task
    # A second run polling A's job (a duplicate poll, the reaper) reports A's failure again.
    vendor_fail(video.pk, code=code, detail="late", task_id=first_task)
    video.refresh_from_db()
    assert video.stage == Stage.SUBMITTED and video.model.model_id == B and len(video.previous_attempts) == 1
    assert len(_ledger(video)) == 3  # charge A, refund A, charge B: nothing more
    video = _drive(video)
    assert video.stage == Stage.DONE and video.model.model_id == B
