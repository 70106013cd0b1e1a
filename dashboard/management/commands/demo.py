"""Create (once) the demo user, its credits and API key; print how to use them. Used by `make run`."""

import json
import os
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from billing import services as billing
from billing.models import ApiKey

DEMO_CREDITS = Decimal("1000")


def demo_credentials() -> dict[str, str]:
    """The demo login and key, kept in DATA_DIR (readable by its owner only) so every `make run` can print them."""
    path = Path(settings.DATA_DIR) / "demo-credentials.json"
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    User = get_user_model()
    user = User.objects.filter(username=saved.get("username", "demo")).first()
    if user is None or not user.check_password(saved.get("password", "")):
        saved["username"] = saved.get("username", "demo")
        saved["password"] = saved.get("password") or secrets.token_urlsafe(9)
        user = user or User(username=saved["username"], email="demo@example.com")
        user.set_password(saved["password"])
        user.save()
    key = saved.get("api_key", "")
    if not key or billing.api_key_authenticate(key) is None or ApiKey.objects.get(prefix=key[:12]).owner != user:
        _, saved["api_key"] = billing.api_key_issue(user=user, name="demo (make run)")
    billing.credits_grant(user=user, amount=DEMO_CREDITS, key=f"demo-grant:{user.pk}", note="demo credits",
                          by="make run")
    _ensure_admin(saved)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created owner-only (it holds the admin password): never readable by others, not even for a moment.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(json.dumps(saved))
    os.chmod(path, 0o600)  # a file left by an older version
    return saved


def _ensure_admin(saved: dict[str, str]) -> None:
    """A superuser for /admin/ (prices, credits, keys) with a generated password, made once. If its owner
    changed the password (or the name was taken), the banner prints the command that makes a login instead."""
    User = get_user_model()
    username = saved.setdefault("admin_username", "admin")
    admin = User.objects.filter(username=username).first()
    if admin is None:
        saved["admin_password"] = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="admin@example.com",
                                      password=saved["admin_password"])
    elif not (admin.is_superuser and admin.check_password(saved.get("admin_password", ""))):
        saved.pop("admin_password", None)


class Command(BaseCommand):
    help = "Ensure the demo user, credits and API key exist, and print them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        creds = demo_credentials()
        self.stdout.write(banner(creds, port))


def banner(creds: dict[str, str], port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    if creds.get("admin_password"):
        admin = f"(login: {creds['admin_username']} / {creds['admin_password']})"
    else:
        admin = "(make one: .venv/bin/python manage.py createsuperuser)"
    return (
        "\n"
        f"  Dashboard:  {base}/   (login: {creds['username']} / {creds['password']})\n"
        f"  API base:   {base}/api/v3   (docs: {base}/api/v3/docs)\n"
        f"  API key:    {creds['api_key']}\n"
        f"  Admin:      {base}/admin/   {admin}\n"
        "\n"
        f"  curl -s -X POST {base}/api/v3/videos/generate -H 'X-API-Key: {creds['api_key']}' \\\n"
        "       -H 'Content-Type: application/json' \\\n"
        "       -d '{\"prompt\":\"A cat playing with a ball of yarn\",\"model\":\"minimax-hailuo-02-6s-768p-t2v\"}'\n"
    )
