"""/healthz (alive, no dependencies) and /readyz (database, cache, broker, storage, sweep age; 503 if not)."""

import time

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from dashboard import health
from videos import tasks

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_checks_every_dependency_for_real(client) -> None:
    tasks.videos_poll_due_task()  # a sweep runs and records its time (the scheduler's job)
    r = client.get("/readyz")
    body = r.json()
    assert r.status_code == 200, body
    assert set(body["checks"]) == {"database", "cache", "broker", "storage", "sweep", "scheduler", "poller"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert "celery" in body["checks"]["broker"]["queues"]
    assert 0 <= body["checks"]["sweep"]["age_seconds"]["videos_poll_due"] < body["checks"]["sweep"][
        "stale_after_seconds"]


def test_a_stale_sweep_makes_it_not_ready(client, settings) -> None:
    settings.SWEEP_STALE_SECONDS = 60
    for name in health.SWEEPS:
        cache.set(f"ops:sweep:{name}", time.time() - 3600, None)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "error"
    sweep = r.json()["checks"]["sweep"]
    assert sweep["status"] == "error" and "scheduler" not in sweep["error"] and "3600" in sweep["error"]
    assert r.json()["checks"]["database"]["status"] == "ok"


def test_no_sweep_at_all_after_the_grace_period_names_the_scheduler(client, settings, monkeypatch) -> None:
    monkeypatch.setattr(health, "_STARTED", time.time() - 3600)
    r = client.get("/readyz", {"check": "sweep"})
    assert r.status_code == 503 and "celery beat" in r.json()["checks"]["sweep"]["error"]
    assert set(r.json()["checks"]) == {"sweep"}


def test_an_unreachable_broker_is_reported_not_raised(client, monkeypatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://:hunter2-broker-pass@127.0.0.1:1/0")  # celery reads it first
    r = client.get("/readyz", {"check": ["broker", "database"]})
    assert r.status_code == 503
    broker = r.json()["checks"]["broker"]
    assert broker["status"] == "error" and "hunter2" not in r.content.decode()
    assert r.json()["checks"]["database"]["status"] == "ok"


def test_an_unreachable_cache_is_reported(client, settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    r = client.get("/readyz", {"check": "cache"})
    assert r.status_code == 503 and r.json()["checks"]["cache"]["status"] == "error"


def test_the_health_command_exits_non_zero_when_not_ready(settings, capsys, monkeypatch) -> None:
    tasks.videos_poll_due_task()
    call_command("health", "database", "sweep")
    assert '"status": "ok"' in capsys.readouterr().out
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(CommandError) as refused:  # `manage.py health broker` exits with this code
        call_command("health", "broker")
    assert refused.value.returncode == 1


def test_the_cli_check_cannot_stay_starting_forever(settings, capsys) -> None:
    """Each healthcheck run is a new process: the grace period starts at the first look, kept in the cache."""
    cache.set("ops:sweep:watching-since", time.time() - 3600, None)
    with pytest.raises(CommandError):
        call_command("health", "sweep")
    assert "celery beat" in capsys.readouterr().out
