"""The session endpoints: create, list (filters, search, summary, paging), detail, stop, delete."""

import pytest
from django.core.files.storage import default_storage

from billing.models import CreditEntry
from tests.factories import make_session
from videos.models import GenerationSession, Video
from videos.services.work import video_start

pytestmark = pytest.mark.django_db


def test_create_a_timed_session(alice_api) -> None:
    r = alice_api.post("/videos/sessions", {"prompt": "Mountain landscapes at different times of day",
                                            "model": "minimax-hailuo-02-6s-768p-t2v", "duration_minutes": 5,
                                            "max_videos": 3, "interval_seconds": 60})
    assert r.status_code == 201, r.content
    body = r.json()
    # The top level is the first video (the spec's response format); the session is nested and says the same.
    assert body["status"] == "pending" and body["session_status"] == "running" and body["credits_used"] == 48.0
    nested = body["session"]
    assert nested["session_id"] == body["session_id"] and nested["status"] == body["session_status"]
    assert nested["credits_used"] == 48.0 and nested["total_videos"] == 1 and nested["completed_videos"] == 0
    session = GenerationSession.objects.get(public_id=body["session_id"])
    assert (session.kind, session.max_videos, session.interval_seconds, session.duration_minutes) == ("timed", 3, 60, 5)
    assert session.videos.count() == 1 and session.next_run_at is not None


def test_session_defaults_follow_the_spec(alice_api) -> None:
    r = alice_api.post("/videos/sessions", {"prompt": "waves", "model": "luma-ray-2.0-flash-5s-t2v"})
    session = GenerationSession.objects.get(public_id=r.json()["session_id"])
    assert (session.duration_minutes, session.max_videos, session.interval_seconds) == (30, 50, 60)


@pytest.mark.parametrize("field, value", [("max_videos", 0), ("max_videos", 101), ("interval_seconds", 9),
                                          ("duration_minutes", 0), ("duration_minutes", 100000),
                                          ("max_videos", "many")])
def test_absurd_session_parameters_are_refused(alice, alice_api, field, value) -> None:
    r = alice_api.post("/videos/sessions", {"prompt": "waves", "model": "luma-ray-2.0-flash-5s-t2v", field: value})
    assert r.status_code == 422 and r.json()["error"]["field"] == field
    assert not GenerationSession.objects.filter(owner=alice).exists()


def test_list_filters_searches_pages_and_summarises(alice, alice_api) -> None:
    for prompt in ("mountain at dawn", "Mountain at dusk", "ocean waves"):
        make_session(owner=alice, prompt=prompt)
    stopped = make_session(owner=alice, prompt="a stopped mountain", timed=True, max_videos=3)
    alice_api.post(f"/videos/sessions/{stopped.public_id}/stop")
    body = alice_api.get("/videos/sessions", search="mountain", page=1, page_size=2).json()
    assert body["pagination"] == {"page": 1, "page_size": 2, "total_count": 3, "total_pages": 2, "has_next": True,
                                  "has_previous": False}
    assert len(body["sessions"]) == 2 and all("ountain" in s["prompt"] for s in body["sessions"])
    # The summary describes the filtered list (all its pages), and its credits are the ledger's.
    summary = body["summary"]
    assert summary["stopped"] == 1 and summary["running"] == 2 and summary["completed"] == 0
    assert summary["total_sessions"] == 3 and summary["total_videos"] == 3
    assert summary["total_credits_used"] == _ledger_spent(GenerationSession.objects.filter(prompt__icontains="mountain"))
    assert summary["total_credits_used"] == sum(
        s["credits_used"] for s in alice_api.get("/videos/sessions", search="mountain").json()["sessions"])
    only_stopped = alice_api.get("/videos/sessions", status="stopped").json()
    assert [s["session_id"] for s in only_stopped["sessions"]] == [stopped.public_id]
    assert only_stopped["sessions"][0]["total_videos"] == 1
    assert only_stopped["summary"]["total_sessions"] == only_stopped["summary"]["stopped"] == 1
    assert only_stopped["summary"]["total_credits_used"] == _ledger_spent([stopped])
    everything = alice_api.get("/videos/sessions").json()["summary"]
    assert everything["total_sessions"] == 4 and everything["total_videos"] == 4
    assert everything["total_credits_used"] == _ledger_spent(GenerationSession.objects.all()) > 0
    assert isinstance(everything["total_credits_used"], float)


def _ledger_spent(sessions) -> float:
    ids = [s.public_id for s in sessions]
    rows = CreditEntry.objects.filter(session_id__in=ids, kind__in=["charge", "refund"])
    return float(-sum(e.delta for e in rows))


@pytest.mark.parametrize("params, field", [({"page": 0}, "page"), ({"page_size": 101}, "page_size"),
                                           ({"page_size": "x"}, "page_size"), ({"status": "weird"}, "status")])
def test_bad_paging_is_a_422(alice_api, params, field) -> None:
    r = alice_api.get("/videos/sessions", **params)
    assert r.status_code == 422 and r.json()["error"]["field"] == field


def test_detail_pages_the_videos_and_links_the_file(alice, alice_api) -> None:
    session = make_session(owner=alice, prompt="A serene mountain landscape at sunset", model="luma-ray-2.0-flash-5s-t2v",
                           width=320, height=180)
    video_start(session.videos.get().pk)
    body = alice_api.get(f"/videos/sessions/{session.public_id}", page=1, page_size=50).json()
    assert body["session"]["status"] == "completed" and body["session"]["total_videos"] == 1
    video = body["videos"][0]
    assert video["status"] == "completed" and video["simulated"] is True
    assert video["video_url"].startswith("http://testserver/files/videos/") and "signature=" in video["video_url"]
    assert (video["width"], video["height"], video["duration"]) == (320, 180, 5)
    assert body["pagination"]["total_count"] == 1


def test_stop_is_immediate_and_idempotent(alice, alice_api) -> None:
    session = make_session(owner=alice, timed=True, max_videos=5, interval_seconds=10)
    first = alice_api.post(f"/videos/sessions/{session.public_id}/stop")
    second = alice_api.post(f"/videos/sessions/{session.public_id}/stop")
    assert first.status_code == second.status_code == 200
    assert first.json()["session"]["status"] == second.json()["session"]["status"] == "stopped"
    session.refresh_from_db()
    assert session.next_run_at is None and session.finished_at is not None


def test_delete_removes_rows_and_files(alice, alice_api, django_capture_on_commit_callbacks) -> None:
    session = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v", width=320, height=180)
    video_start(session.videos.get().pk)
    video = Video.objects.get(session=session)
    names = [video.file, video.thumbnail, video.last_frame]
    assert all(default_storage.exists(n) for n in names)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_api.delete(f"/videos/sessions/{session.public_id}")
    assert r.status_code == 200
    assert r.json() == {"success": True, "message": "Session and 1 videos deleted successfully", "videos_deleted": 1,
                        "session_id": session.public_id}
    assert not GenerationSession.objects.filter(pk=session.pk).exists()
    assert not any(default_storage.exists(n) for n in names)


def test_deleting_an_unfinished_video_refunds_it(alice, alice_api) -> None:
    session = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v")
    assert alice_api.get("/credits").json()["remaining_credits"] == 980.0
    alice_api.delete(f"/videos/sessions/{session.public_id}")
    assert alice_api.get("/credits").json()["remaining_credits"] == 1000.0


@pytest.mark.parametrize("method, suffix", [("get", ""), ("post", "/stop"), ("delete", "")])
def test_another_accounts_session_is_a_404_everywhere(alice, bob_api, method, suffix) -> None:
    session = make_session(owner=alice)
    r = getattr(bob_api, method)(f"/videos/sessions/{session.public_id}{suffix}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    session.refresh_from_db()
    assert session.status == "running"
    assert bob_api.get("/videos/sessions").json()["pagination"]["total_count"] == 0
    assert bob_api.get("/videos/history").json()["videos"] == []
    assert bob_api.get(f"/videos/{session.videos.get().public_id}").status_code == 404
