"""The video state machine: each transition rule, leases (claim, renew, expiry, reclaim), and files per attempt."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from billing.models import CreditEntry
from billing.services import credit_balance
from tests.factories import make_session
from videos import lifecycle, services, tasks
from videos.models import Video
from videos.services.render import render_claim

pytestmark = pytest.mark.django_db
Stage = Video.Stage


@pytest.fixture
def video(alice) -> Video:
    return make_session(owner=alice, width=320, height=180).videos.get()


def _set(video: Video, **fields) -> Video:
    Video.objects.filter(pk=video.pk).update(**fields)
    video.refresh_from_db()
    return video


@pytest.mark.parametrize("to", list(Stage))
def test_every_stage_is_entered_only_from_its_allowed_stages(video, to) -> None:
    for frm in Stage:
        _set(video, stage=frm, status=lifecycle.STATUS[frm], lease_owner="", lease_until=None)
        moved = lifecycle.move(video.pk, to)
        video.refresh_from_db()
        if frm in lifecycle.ALLOWED[to]:
            assert moved == 1 and video.stage == to and video.status == lifecycle.STATUS[to], (frm, to)
        else:
            assert moved == 0 and video.stage == frm, (frm, to)


def test_final_stages_are_never_left_and_asking_for_it_is_a_bug(video) -> None:
    for final in lifecycle.FINAL:
        assert all(final not in lifecycle.ALLOWED[to] for to in Stage if to not in (Stage.FAILED, Stage.CANCELLED)) \
            or final not in lifecycle.ACTIVE
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.move(video.pk, Stage.QUEUED, frm=(Stage.DONE,))
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.move(video.pk, Stage.DONE, frm=(Stage.RENDERING,))  # done only after storing


def test_a_move_with_an_owner_needs_that_run_to_hold_the_lease(video) -> None:
    mine, theirs = lifecycle.new_owner(), lifecycle.new_owner()
    assert lifecycle.claim(video, Stage.RENDERING, frm=(Stage.QUEUED,), owner=mine)
    assert lifecycle.move(video.pk, Stage.STORING, frm=(Stage.RENDERING,), owner=theirs) == 0
    assert lifecycle.move(video.pk, Stage.STORING, frm=(Stage.RENDERING,), owner=mine) == 1
    video.refresh_from_db()
    assert video.lease_owner == mine and video.lease_until > timezone.now()


def test_a_live_lease_cannot_be_claimed_an_expired_one_can_once(video) -> None:
    first, second, third = (lifecycle.new_owner() for _ in range(3))
    assert lifecycle.claim(video, Stage.RENDERING, frm=(Stage.QUEUED,), owner=first)
    video.refresh_from_db()
    assert not lifecycle.claim(video, Stage.RENDERING, frm=(Stage.RENDERING,), owner=second)  # first is alive
    _set(video, lease_until=timezone.now() - timedelta(seconds=1))  # first died
    stale = Video.objects.get(pk=video.pk)
    assert lifecycle.claim(video, Stage.RENDERING, frm=(Stage.RENDERING,), owner=second)
    assert not lifecycle.claim(stale, Stage.RENDERING, frm=(Stage.RENDERING,), owner=third)  # read the same row
    assert not lifecycle.lease_renew(video.pk, owner=first)  # the dead run's renewals fail: it stops
    assert lifecycle.lease_renew(video.pk, owner=second)
    assert Video.objects.get(pk=video.pk).lease_owner == second


def test_a_start_delivered_three_times_renders_once(video) -> None:
    for _ in range(3):
        tasks.video_start_task(video.pk)
    video.refresh_from_db()
    assert (video.status, video.stage, video.lease_owner) == ("completed", "done", "")
    assert CreditEntry.objects.filter(video_id=video.public_id).count() == 1
    stored = default_storage.listdir(video.file.rsplit("/", 1)[0])[1]
    assert sorted(stored) == sorted(n.rsplit("/", 1)[1] for n in (video.file, video.thumbnail, video.last_frame))


def test_a_render_whose_worker_died_is_redone_and_the_dead_runs_files_are_removed(video) -> None:
    dead = lifecycle.new_owner()
    assert lifecycle.claim(video, Stage.RENDERING, frm=(Stage.QUEUED,), owner=dead)
    from videos.services.results import files_of_run

    orphan = files_of_run(video, dead)[0]
    default_storage.save(orphan, __import__("io").BytesIO(b"half a video"))  # it died mid-store
    _set(video, lease_until=timezone.now() - timedelta(seconds=1))
    assert tasks.videos_poll_due_task() >= 1  # the sweep re-sends it (the message sits in the broker)
    services.video_start(video.pk)  # what the re-sent message does
    video.refresh_from_db()
    assert video.status == "completed" and default_storage.exists(video.file)
    assert not default_storage.exists(orphan)


def test_a_run_that_lost_the_video_keeps_none_of_its_files(video, monkeypatch) -> None:
    """Stopped or reclaimed while rendering: the final move fails, and only this run's files are deleted."""
    from videos.services import render as render_module

    winner_file = []
    original = render_module.video_store

    def store_after_someone_else_won(video_obj, *, owner, **kwargs):
        other = lifecycle.new_owner()
        _set(video_obj, lease_owner=other)  # another run reclaimed it meanwhile
        winner_file.append(f"videos/winner-{lifecycle.owner_token(other)}.mp4")
        default_storage.save(winner_file[0], __import__("io").BytesIO(b"the winner's"))
        return original(video_obj, owner=owner, **kwargs)

    monkeypatch.setattr(render_module, "video_store", store_after_someone_else_won)
    services.video_start(video.pk)
    video.refresh_from_db()
    assert video.status == "processing" and video.file == ""
    folder = f"videos/{video.owner_id}/{video.session.public_id}"
    assert not default_storage.exists(folder) or default_storage.listdir(folder)[1] == []  # its own: gone
    assert default_storage.exists(winner_file[0])  # never anyone else's


def test_a_failed_video_is_refunded_once_whatever_path_fails_it(video, alice) -> None:
    assert services.video_fail(video.pk, error="x", code="timeout")
    assert not services.video_fail(video.pk, error="y", code="deleted")
    assert not services.vendor_fail(video.pk, code="vendor_error", detail="z")
    video.refresh_from_db()
    assert (video.stage, video.error_code) == ("failed", "timeout")
    assert CreditEntry.objects.filter(video_id=video.public_id, kind="refund").count() == 1
    assert credit_balance(user=alice) == Decimal("1000.00")


def test_a_user_cancel_is_its_own_stage(video) -> None:
    services.video_fail(video.pk, error="Cancelled by you.", code="cancelled")
    video.refresh_from_db()
    assert (video.status, video.stage, video.error_code) == ("failed", "cancelled", "cancelled")


def test_render_claim_refuses_a_video_someone_is_rendering(video) -> None:
    assert render_claim(video, lifecycle.new_owner())
    video.refresh_from_db()
    assert not render_claim(video, lifecycle.new_owner())


@pytest.mark.django_db(transaction=True)
def test_a_run_stopped_right_after_it_completed_the_video_leaves_its_files(alice, monkeypatch) -> None:
    """A SIGTERM (warm shutdown) landing in the commit hooks must not delete the files of a completed video."""
    from django.db import transaction

    from videos.services import results

    video = make_session(owner=alice, width=320, height=180).videos.get()

    def stopped_after_commit(_video) -> None:
        def stop() -> None:
            raise SystemExit("SIGTERM")

        transaction.on_commit(stop)

    monkeypatch.setattr(results, "dispatch_on_commit", stopped_after_commit)
    with pytest.raises(SystemExit):
        services.video_start(video.pk)
    video.refresh_from_db()
    assert video.status == "completed" and default_storage.exists(video.file)


def test_the_sweep_ends_at_once_the_leases_of_processes_that_are_gone(video) -> None:
    """A killed worker on this host: its work is handed on at the next sweep, not after the lease runs out."""
    import socket
    import subprocess

    dead_pid = subprocess.Popen(["true"])  # a process that has exited
    dead_pid.wait()
    host = socket.gethostname()[:60]
    dead, alive = f"{host}:{dead_pid.pid}:tok1", f"{host}:{__import__('os').getppid()}:tok2"
    other = make_session(owner=video.owner, width=320, height=180).videos.get()
    until = timezone.now() + timedelta(minutes=5)
    _set(video, stage="rendering", status="processing", lease_owner=dead, lease_until=until)
    _set(other, stage="rendering", status="processing", lease_owner=alive, lease_until=until)
    assert lifecycle.leases_of_dead_processes_end() == 1
    video.refresh_from_db()
    other.refresh_from_db()
    assert video.lease_until < timezone.now() and other.lease_until == until
    assert render_claim(video, lifecycle.new_owner())  # the next start takes it over


def test_a_render_that_breaks_fails_and_refunds_instead_of_looping(video, alice, monkeypatch) -> None:
    from videos.providers.local import LocalProvider

    def broken(self, job, out_dir):
        raise RuntimeError("libx264: out of memory")

    monkeypatch.setattr(LocalProvider, "generate", broken)
    services.video_start(video.pk)
    video.refresh_from_db()
    assert (video.status, video.error_code, video.error_detail) == ("failed", "render_error",
                                                                    "RuntimeError: libx264: out of memory")
    assert "libx264" not in video.error and credit_balance(user=alice) == Decimal("1000.00")


def test_a_poll_scheduled_by_a_process_that_is_gone_is_due_at_once(video) -> None:
    """Between polls the scheduling process is named (no lease): its countdown message died with it."""
    import os
    import socket
    import subprocess

    exited = subprocess.Popen(["true"])
    exited.wait()
    host = socket.gethostname()[:60]
    other = make_session(owner=video.owner, width=320, height=180).videos.get()
    later = timezone.now() + timedelta(seconds=20)
    for row, pid in ((video, exited.pid), (other, os.getppid())):
        _set(row, stage="submitted", status="processing", vendor_task_id="t-1", lease_owner=f"{host}:{pid}:tok",
             lease_until=None, next_poll_at=later)
    assert lifecycle.leases_of_dead_processes_end() == 1
    video.refresh_from_db()
    other.refresh_from_db()
    assert video.lease_owner == "" and video.lease_until < timezone.now()  # the sweep re-sends its poll now
    assert other.lease_owner.endswith(":tok") and other.lease_until is None  # its scheduler lives: left alone
