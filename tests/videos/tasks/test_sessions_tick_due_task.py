"""The fallback sweep of timed sessions: it ticks only those the scheduler process has left a sweep overdue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_session
from videos import tasks
from videos.models import GenerationSession

pytestmark = pytest.mark.django_db


def test_it_ticks_only_sessions_more_than_a_sweep_overdue(alice, settings, monkeypatch) -> None:
    settings.SWEEP_INTERVAL = 15
    monkeypatch.setattr(tasks.video_start_task, "apply_async", lambda *a, **k: None)
    late, due_now = (make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10) for _ in range(2))
    GenerationSession.objects.filter(pk=late.pk).update(next_run_at=timezone.now() - timedelta(seconds=20))
    GenerationSession.objects.filter(pk=due_now.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    assert tasks.sessions_tick_due_task() == 1  # the scheduler process has the one just due
    assert late.videos.count() == 2 and due_now.videos.count() == 1
    assert tasks.sessions_tick_due_task() == 0


def test_its_tasks_go_to_the_sessions_queue(settings) -> None:
    from dashboard.celery import app

    for name in ("videos.tasks.sessions_tick_due_task", "videos.tasks.session_tick_task"):
        assert app.amqp.router.route({}, name)["queue"].name == "sessions"
    assert "sessions" in {q.name for q in settings.CELERY_TASK_QUEUES}
