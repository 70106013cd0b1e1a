"""Configuration no one trips on: a fresh clone runs the README's commands with no environment at all, a
production deployment refuses to start without its secret, `.env` is read (the environment wins)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
CLEARED = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "MEDIA_ROOT", "ENV_FILE",
           "IMAGE_FETCH_ALLOW_HOSTS", "LOG_FORMAT"}


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`.venv/bin/python manage.py ...` as a user on a fresh clone runs it: none of our settings in the env."""
    clean = {k: v for k, v in os.environ.items() if k not in CLEARED}
    clean.update({"DATA_DIR": str(tmp_path / "data"), "ENV_FILE": "none", **env})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=120)


def test_readme_commands_work_with_no_environment(tmp_path: Path) -> None:
    migrated = manage(tmp_path, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    made = manage(tmp_path, "create_api_key", "alice", "--credits", "500")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().startswith("mcp_") and "500.00" in made.stdout + made.stderr
    secret = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text()) >= 50
    first = secret.read_text()
    admin = manage(tmp_path, "createsuperuser", "--noinput", "--username", "root", "--email", "r@example.com",
                   DJANGO_SUPERUSER_PASSWORD="a-long-pass-phrase-1")
    assert admin.returncode == 0, admin.stderr
    assert secret.read_text() == first  # generated once, then reused


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    refused = manage(tmp_path, "check", DATABASE_URL="postgres://u:p@127.0.0.1:1/none")
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr
    assert not (tmp_path / "data" / "secret_key").exists()
    debug = manage(tmp_path, "check", DATABASE_URL="postgres://u:p@127.0.0.1:1/none", DEBUG="true")
    assert debug.returncode == 0, debug.stderr


def test_dot_env_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nIMAGE_FETCH_ALLOW_HOSTS=images.lan,localhost\nRATE_LIMIT_PER_MINUTE=7\n"
                      "FILE_URL_TTL=600\n")
    code = ("from django.conf import settings as s; "
            "print(s.IMAGE_FETCH_ALLOW_HOSTS, s.RATE_LIMIT_PER_MINUTE, s.FILE_URL_TTL)")
    out = manage(tmp_path, "shell", "-c", code, ENV_FILE=str(dotenv), FILE_URL_TTL="900")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "['images.lan', 'localhost'] 7 900"


@pytest.mark.django_db
def test_make_run_prints_a_working_admin_login(settings, tmp_path: Path, capsys) -> None:
    settings.DATA_DIR = tmp_path
    call_command("demo", port=8123)
    out = capsys.readouterr().out
    creds = __import__("json").loads((tmp_path / "demo-credentials.json").read_text())
    assert f"login: admin / {creds['admin_password']}" in out
    client = Client()
    assert client.login(username="admin", password=creds["admin_password"])
    assert client.get("/admin/").status_code == 200
    call_command("demo", port=8123)  # every `make run` prints the same login
    assert creds["admin_password"] in capsys.readouterr().out


@pytest.mark.django_db
def test_a_changed_admin_password_gets_the_command_instead(settings, tmp_path: Path, capsys) -> None:
    from django.contrib.auth.models import User

    settings.DATA_DIR = tmp_path
    call_command("demo", port=8123)
    admin = User.objects.get(username="admin")
    admin.set_password("changed-by-the-operator-1")
    admin.save()
    capsys.readouterr()
    call_command("demo", port=8123)
    assert "manage.py createsuperuser" in capsys.readouterr().out


def test_a_forbidden_image_address_says_how_to_allow_it(alice_api) -> None:
    r = alice_api.post("/videos/generate", {"prompt": "x", "model": "luma-ray-2.0-i2v-5s",
                                            "head_image": "http://127.0.0.1:9/cat.png"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "head_image"
    assert "IMAGE_FETCH_ALLOW_HOSTS" in r.json()["error"]["message"]


def test_every_manage_py_command_in_the_readme_exists_and_runs_as_written(tmp_path: Path) -> None:
    import re
    import shlex

    readme = (ROOT / "README.md").read_text()
    lines = re.findall(r"`\.venv/bin/python manage\.py ([^`]+)`", readme)
    assert {line.split()[0] for line in lines} >= {"create_api_key", "createsuperuser", "sync_catalog", "health"}
    assert manage(tmp_path, "migrate", "--noinput").returncode == 0
    for line in lines:
        args = shlex.split(line.replace("[", "").replace("]", ""))
        if args[0] == "createsuperuser":  # interactive as written; run it the non-interactive way
            args += ["--noinput", "--username", "ops", "--email", "ops@example.com"]
        done = manage(tmp_path, *args, DJANGO_SUPERUSER_PASSWORD="a-long-pass-phrase-2")
        assert done.returncode == 0, (line, done.stdout, done.stderr)


def test_env_example_documents_every_setting_and_copying_it_changes_nothing() -> None:
    import re

    from dotenv import dotenv_values

    example = (ROOT / ".env.example").read_text()
    assert dotenv_values(ROOT / ".env.example") == {}  # all commented out: `cp .env.example .env` is safe
    documented = set(re.findall(r"^# ([A-Z][A-Z0-9_]+)=", example, re.M))
    source = (ROOT / "dashboard" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|float|list|seconds)\("([A-Z][A-Z0-9_]+)"', source))
    per_vendor = {"MINIMAX_API_KEY", "LUMA_API_KEY", "KLING_ACCESS_KEY", "LUMA_POLL_INTERVAL", "MINIMAX_MAX_CONCURRENT"}
    assert read - documented == set() and per_vendor <= documented
