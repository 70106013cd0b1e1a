"""The session scheduler and the vendor poller as an operator sees them: heartbeats in the shared cache, the lag
read from the database, and what /readyz, `manage.py health` and /metrics make of the two together."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import requests
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from dashboard import heartbeat
from dashboard.heartbeat import Heartbeat
from tests.factories import make_session
from videos import backlog
from videos.models import GenerationSession, Video

pytestmark = pytest.mark.django_db


def overdue_session(owner, seconds: float) -> GenerationSession:
    session = make_session(owner=owner)
    GenerationSession.objects.filter(pk=session.pk).update(
        status=GenerationSession.Status.RUNNING, next_run_at=timezone.now() - timedelta(seconds=seconds))
    return session


def overdue_poll(owner, seconds: float) -> Video:
    video = make_session(owner=owner).videos.get()
    Video.objects.filter(pk=video.pk).update(stage=Video.Stage.SUBMITTED, provider="luma", vendor_task_id="t-1",
                                             next_poll_at=timezone.now() - timedelta(seconds=seconds))
    return video


def other_host(kind: str, *, partition: tuple[int, int] | None = None) -> Heartbeat:
    beat = Heartbeat(kind, partition=partition)
    beat.host = "elsewhere"
    beat.id = f"elsewhere:1:{kind}{beat.partition}"
    return beat


def test_a_heartbeat_writes_at_most_once_per_interval_and_says_what_the_process_did(settings) -> None:
    beat = Heartbeat("scheduler", partition=(1, 4), every=3600)
    assert beat.beat({"sessions_ticked": 2}, worked=True) is True
    assert beat.beat({"sessions_ticked": 9}, worked=True) is False  # throttled: the cache keeps the first
    (seen,) = heartbeat.beats("scheduler")
    assert (seen.id, seen.partition, seen.counters, seen.alive(time.time())) == (
        beat.id, "1/4", {"sessions_ticked": 2}, True)
    assert seen.last_work_at is not None
    assert beat.beat({"sessions_ticked": 9}, stopped=True) is True  # a clean stop is written at once
    (seen,) = heartbeat.beats("scheduler")
    assert seen.stopped and not seen.alive(time.time()) and seen.counters == {"sessions_ticked": 9}


def test_a_process_whose_beat_is_older_than_the_stale_limit_is_not_alive(settings) -> None:
    Heartbeat("poller").beat(force=True)
    (seen,) = heartbeat.beats("poller")
    settings.HEARTBEAT_STALE_SECONDS = 60
    assert seen.alive(seen.at + 59) and not seen.alive(seen.at + 61)


def test_each_process_is_listed_even_when_two_register_at_once(settings) -> None:
    """Two first beats that race on the index: the one lost is put back by its next beat."""
    a, b = Heartbeat("poller", every=0), Heartbeat("poller", every=0)
    a.beat()
    cache.set("ops:beats:poller", [], None)  # as if b's read-modify-write had overwritten a's
    b.beat()
    assert [x.id for x in heartbeat.beats("poller")] == [b.id]
    a.beat()
    assert {x.id for x in heartbeat.beats("poller")} == {a.id, b.id}


def test_partitions_are_covered_when_every_k_of_some_n_is_alive() -> None:
    def alive(*parts: str) -> list[heartbeat.Beat]:
        return [heartbeat.Beat("scheduler", str(i), "h", i, p, 0.0, 0.0, None, False) for i, p in enumerate(parts)]

    assert heartbeat.uncovered(alive()) == ["*"]
    assert heartbeat.uncovered(alive("")) == []
    assert heartbeat.uncovered(alive("0/2", "1/2")) == []
    assert heartbeat.uncovered(alive("0/2")) == ["1/2"]
    assert heartbeat.uncovered(alive("0/3", "2/3", "1/2")) == ["0/2", "1/3"]


def test_the_lag_is_read_from_the_database_whatever_the_heartbeats_say(alice) -> None:
    assert backlog.sessions_overdue() == backlog.Overdue(0, 0.0)
    overdue_session(alice, 300)
    overdue_session(alice, 30)
    later = make_session(owner=alice)  # running, due in an hour: not overdue
    GenerationSession.objects.filter(pk=later.pk).update(status="running",
                                                         next_run_at=timezone.now() + timedelta(hours=1))
    found = backlog.sessions_overdue()
    assert found.due == 2 and 300 <= found.lag_seconds < 3600
    overdue_poll(alice, 200)
    polls = backlog.polls_overdue()
    assert polls.due == 1 and 200 <= polls.lag_seconds < 3600


def test_readyz_fails_when_sessions_are_overdue_and_no_scheduler_is_alive(client, alice, settings) -> None:
    settings.SESSIONS_LAG_LIMIT = 60
    overdue_session(alice, 30)
    r = client.get("/readyz", {"check": "scheduler"})  # late, but within the limit: the sweeps will get to it
    assert r.status_code == 200 and "no live ticksessions" in r.json()["checks"]["scheduler"]["warning"]
    overdue_session(alice, 600)
    r = client.get("/readyz", {"check": ["scheduler", "poller"]})
    assert r.status_code == 503
    scheduler = r.json()["checks"]["scheduler"]
    assert scheduler["status"] == "error" and "ticksessions" in scheduler["error"] and "none is alive" in scheduler[
        "error"]
    assert scheduler["due"] == 2 and scheduler["lag_seconds"] >= 600 and scheduler["alive"] == 0  # figures kept
    assert r.json()["checks"]["poller"]["status"] == "ok"

    Heartbeat("scheduler").beat(force=True)  # a live scheduler: late means overloaded, not gone
    r = client.get("/readyz", {"check": "scheduler"})
    scheduler = r.json()["checks"]["scheduler"]
    assert r.status_code == 200 and scheduler["alive"] == 1 and "overloaded" in scheduler["warning"]
    assert scheduler["processes"][0]["pid"] > 0 and scheduler["processes"][0]["alive"] is True


def test_a_missing_partition_is_named(client, alice, settings) -> None:
    settings.SESSIONS_LAG_LIMIT = 60
    overdue_session(alice, 600)
    other_host("scheduler", partition=(0, 2)).beat(force=True)
    r = client.get("/readyz", {"check": "scheduler"})
    scheduler = r.json()["checks"]["scheduler"]
    assert r.status_code == 503 and "1/2" in scheduler["error"] and scheduler["partitions_missing"] == ["1/2"]
    other_host("scheduler", partition=(1, 2)).beat(force=True)
    assert client.get("/readyz", {"check": "scheduler"}).status_code == 200


def test_a_stopped_poller_with_overdue_polls_is_not_ready_unless_none_is_expected(client, alice, settings) -> None:
    settings.VENDOR_POLL_LAG_LIMIT = 60
    overdue_poll(alice, 600)
    Heartbeat("poller").beat(stopped=True)
    r = client.get("/readyz", {"check": "poller"})
    poller = r.json()["checks"]["poller"]
    assert r.status_code == 503 and "pollvendors" in poller["error"] and poller["processes"][0]["stopped"]
    settings.VENDOR_POLLER_EXPECTED = False  # the sweeps alone poll here: lag is shown, not failed on
    r = client.get("/readyz", {"check": "poller"})
    assert r.status_code == 200 and r.json()["checks"]["poller"]["lag_seconds"] >= 600


def test_the_container_check_asks_for_a_live_process_on_this_host(capsys) -> None:
    other_host("scheduler").beat(force=True)
    call_command("health", "scheduler")  # system-wide: one is alive somewhere, nothing is late
    with pytest.raises(CommandError) as refused:
        call_command("health", "--this-host", "scheduler")
    assert refused.value.returncode == 1
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert "no ticksessions process on this host" in json.loads(out)["checks"]["scheduler"]["error"]
    Heartbeat("scheduler").beat(force=True)
    call_command("health", "--this-host", "scheduler")
    assert json.loads(capsys.readouterr().out)["checks"]["scheduler"]["alive"] == 2


def test_metrics_show_the_lag_the_due_counts_and_the_heartbeats(live_server, alice) -> None:
    overdue_session(alice, 120)
    overdue_poll(alice, 240)
    Heartbeat("scheduler", partition=(0, 1)).beat(force=True)
    r = requests.get(f"{live_server.url}/metrics", timeout=30)
    assert r.status_code == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(r.text) for s in family.samples}
    assert samples[("mcphub_sessions_due", ())] == 1 and samples[("mcphub_vendor_polls_due", ())] == 1
    assert 120 <= samples[("mcphub_sessions_lag_seconds", ())] < samples[("mcphub_vendor_poll_lag_seconds", ())]
    assert samples[("mcphub_background_processes_alive", (("kind", "scheduler"),))] == 1
    assert samples[("mcphub_background_processes_alive", (("kind", "poller"),))] == 0
    (age,) = [v for (name, labels), v in samples.items() if name == "mcphub_heartbeat_age_seconds"]
    assert 0 <= age
