"""Small typed readers for settings that come from the environment (and an optional `.env` file).

A bad value raises ImproperlyConfigured at start-up instead of surfacing later as odd behaviour.
`<NAME>_FILE` reads a secret from a file (Docker / Kubernetes secrets).
"""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def load_env_file(path: Path) -> None:
    """Read `KEY=value` lines from `path` (when it exists) into os.environ; variables already set win.

    ENV_FILE names another file; ENV_FILE=none (or off) reads none.
    """
    chosen = os.environ.get("ENV_FILE", "").strip()
    if chosen.lower() in {"none", "off", "false", "0"}:
        return
    target = Path(chosen) if chosen else path
    if not target.is_file():
        if chosen:
            raise ImproperlyConfigured(f"ENV_FILE={chosen} does not exist")
        return
    from dotenv import dotenv_values

    for name, value in dotenv_values(target).items():
        if value is not None and name not in os.environ:
            os.environ[name] = value


def env_str(name: str, default: str = "") -> str:
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and not value >= minimum:  # NaN fails too
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def local_secret_key(data_dir: Path) -> str:
    """The secret of a local install: generated once into DATA_DIR/secret_key (owner-only) and reused, so
    sessions and signed links survive restarts without anyone choosing a key."""
    path = data_dir / "secret_key"
    if path.is_file() and (existing := path.read_text().strip()):
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: when two processes start at once, one writes and the other reads what it wrote.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            if existing := path.read_text().strip():
                return existing
            import time

            time.sleep(0.05)
        raise ImproperlyConfigured(f"{path} is empty: delete it or set SECRET_KEY") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
