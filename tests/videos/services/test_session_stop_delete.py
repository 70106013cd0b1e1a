"""Stops and deletes that keep their word, and sessions whose videos are each their own generation."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.factories import make_session
from videos import lifecycle, services
from videos.models import GenerationSession, Video
from videos.providers import fake
from videos.providers.base import JobStatus

Stage = Video.Stage


def _tick_due(session: GenerationSession) -> None:
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    services.session_tick(session.pk)


@pytest.mark.django_db
def test_stop_cancels_and_refunds_videos_not_yet_started_and_lets_a_render_finish(alice) -> None:
    session = make_session(owner=alice, timed=True, max_videos=3, interval_seconds=10, width=320, height=180)
    _tick_due(session)
    rendering, queued = session.videos.order_by("sequence")
    assert lifecycle.claim(rendering, Stage.RENDERING, frm=(Stage.QUEUED,), owner=lifecycle.new_owner())
    services.session_stop(session=session)
    queued.refresh_from_db()
    rendering.refresh_from_db()
    assert (queued.status, queued.stage, queued.error_code) == ("failed", "cancelled", "cancelled")
    assert "refunded" in queued.error
    assert rendering.stage == "rendering"  # already being made: it finishes, charged
    assert CreditEntry.objects.filter(video_id=queued.public_id, kind="refund").count() == 1
    assert credit_balance(user=alice) == Decimal("1000.00") - rendering.credits_used
    services.session_stop(session=session)  # idempotent: still one refund
    assert CreditEntry.objects.filter(kind="refund").count() == 1
    session.refresh_from_db()
    assert session.status == "stopped" and session.videos.count() == 2


@pytest.mark.django_db
def test_a_stopped_sessions_job_at_a_vendor_is_cancelled_there_where_the_vendor_can(alice, settings,
                                                                                    monkeypatch) -> None:
    fake.reset()
    settings.PROVIDERS = {"luma": "videos.providers.fake.FakeProvider"}
    fake.FakeProvider.script = [JobStatus(state="processing", progress=10)]
    video = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()
    services.video_start(video.pk)
    video.refresh_from_db()
    assert video.stage == "submitted"
    assert services.vendor_cancel(video.pk) is False  # no cancel call in this adapter: it finishes
    cancelled = []
    monkeypatch.setattr(fake.FakeProvider, "cancel", lambda self, task_id, job: cancelled.append(task_id) or True,
                        raising=False)
    services.session_stop(session=video.session)
    assert services.vendor_cancel(video.pk) is True  # what the task sent on commit does
    video.refresh_from_db()
    assert cancelled == ["fake-1"] and (video.stage, video.error_code) == ("cancelled", "cancelled")
    assert credit_balance(user=alice) == Decimal("1000.00")
    fake.reset()


@pytest.mark.django_db
def test_each_video_of_a_session_has_its_own_seed_and_a_fixed_seed_replays_the_session(alice) -> None:
    def seeds(seed: int | None) -> list[int]:
        extra = {} if seed is None else {"seed": seed}
        session = make_session(owner=alice, timed=True, max_videos=3, interval_seconds=10, **extra)
        _tick_due(session)
        _tick_due(session)
        return list(session.videos.order_by("sequence").values_list("params__seed", flat=True))

    first, again, other = seeds(1234), seeds(1234), seeds(None)
    assert first[0] == 1234 and len(set(first)) == 3  # the first keeps the client's seed; the rest differ
    assert again == first  # reproducible
    assert len(set(other)) == 3 and set(other).isdisjoint(first)


@pytest.mark.django_db(transaction=True)
def test_delete_leaves_no_window_for_a_tick_to_charge_a_video_nobody_refunds(alice, monkeypatch) -> None:
    """A tick that arrives while the delete is refunding waits for the session lock, then finds nothing."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    from videos.services import results

    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    GenerationSession.objects.filter(pk=session.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    inside, original = threading.Event(), results.video_fail

    def slow_fail(*args, **kwargs):
        done = original(*args, **kwargs)
        inside.set()
        threading.Event().wait(1.0)  # hold the delete open: a tick without the lock would slip in here
        return done

    monkeypatch.setattr(results, "video_fail", slow_fail)
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            inside.wait(30)
            services.session_tick(session.pk)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    ticker = threading.Thread(target=tick)
    ticker.start()
    assert services.session_delete(session=session) == 1
    ticker.join(60)
    assert not errors and not GenerationSession.objects.filter(pk=session.pk).exists()
    assert not Video.objects.exists()
    charged = CreditEntry.objects.filter(session_id=session.public_id, kind="charge").count()
    refunded = CreditEntry.objects.filter(session_id=session.public_id, kind="refund").count()
    assert (charged, refunded) == (1, 1)
    assert credit_balance(user=alice) == Decimal("1000.00")


@pytest.mark.django_db
def test_delete_removes_the_files_a_killed_run_left_behind(alice, django_capture_on_commit_callbacks) -> None:
    import io

    from django.core.files.storage import default_storage

    from videos.services.results import files_of_run

    video = make_session(owner=alice).videos.get()
    dead = lifecycle.new_owner()
    assert lifecycle.claim(video, Stage.RENDERING, frm=(Stage.QUEUED,), owner=dead)
    orphan = files_of_run(video, dead)[0]
    default_storage.save(orphan, io.BytesIO(b"half a video"))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.session_delete(session=video.session) == 1
    assert not default_storage.exists(orphan)
    assert credit_balance(user=alice) == Decimal("1000.00")
