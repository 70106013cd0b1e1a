"""docker-compose.yml against the Compose Specification's JSON schema (vendored, see compose/README.md), plus
what makes the stack work: one shared media volume, health-gated start order, the same settings everywhere,
healthchecks for every long-running service, no secret in the file or the image."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

from dashboard import health

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "scheduler", "poller", "sessions")
LONG_RUNNING = ("web", "worker", "scheduler", "poller", "sessions", "postgres", "redis")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((Path(__file__).parent / "compose" / "compose-spec.json").read_text())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(schema).iter_errors(compose)]
    assert errors == []


def test_web_and_worker_share_one_media_volume_that_settings_cannot_move(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("web", "worker"):
        assert "media:/data/media" in services[name]["volumes"]
        assert services[name]["environment"]["MEDIA_ROOT"] == "/data/media"  # `environment` wins over .env
    assert "media" in compose["volumes"]


def test_app_services_have_the_same_settings(compose: dict[str, Any]) -> None:
    services = compose["services"]
    first = services["web"]
    for name in APP_SERVICES:
        assert services[name]["environment"] == first["environment"], name
        assert services[name]["env_file"] == first["env_file"] == [{"path": ".env", "required": False}]
        assert services[name]["image"] == "mcphub-video"
    env = first["environment"]
    assert env["DATABASE_URL"].endswith("@postgres:5432/video") and env["CELERY_BROKER_URL"].startswith("redis://redis")


def test_start_order_waits_for_health_not_just_for_start(compose: dict[str, Any]) -> None:
    services = compose["services"]
    infra = {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    assert services["migrate"]["depends_on"] == infra
    for name in ("web", "worker", "scheduler", "poller", "sessions"):  # a merge (<<) once replaced these with migrate alone
        assert services[name]["depends_on"] == {**infra,
                                                "migrate": {"condition": "service_completed_successfully"}}
    assert services["migrate"]["restart"] == "no"


def test_every_long_running_service_has_a_healthcheck_that_points_at_something_real(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
    web = " ".join(services["web"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8000(/\w+)", web).group(1)
    assert resolve(path).url_name == "readyz"
    scheduler = services["scheduler"]["healthcheck"]["test"]
    assert scheduler[:4] == ["CMD", "python", "manage.py", "health"] and "health" in get_commands()
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    # The session scheduler and the vendor poller: their own process's heartbeat, on their own host, by the check
    # that carries the same name in /readyz; and the command checked runs in that very container.
    for name, check, command in (("sessions", "scheduler", "ticksessions"), ("poller", "poller", "pollvendors")):
        test = services[name]["healthcheck"]["test"]
        assert test == ["CMD", "python", "manage.py", "health", "--this-host", check], name
        assert check in health.CHECKS and check in health.BACKGROUND_CHECKS
        assert services[name]["command"] == ["python", "manage.py", command] and command in get_commands()
    assert (ROOT / services["web"]["command"][2]).is_file()  # dashboard/gunicorn.conf.py


def test_no_secret_is_written_in_the_compose_file_or_baked_into_the_image(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "SECRET_KEY" not in re.sub(r"#.*", "", text)  # comes from .env through env_file
    postgres = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert postgres.startswith("${POSTGRES_PASSWORD:?")
    assert "${POSTGRES_PASSWORD:?" in compose["services"]["web"]["environment"]["DATABASE_URL"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "data"} <= set(ignored)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"^\s*(ENV|ARG)\b.*(SECRET|PASSWORD|API_KEY)", dockerfile, re.M)
    assert not re.search(r"^\s*VOLUME", dockerfile, re.M)  # no anonymous volume hiding /data/media's owner
