"""Start and SIGKILL real Celery worker processes (with beat) on the test database, for crash tests and bench/crash.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def worker_start(env: dict[str, str], log_path: Path, *, concurrency: int = 2, schedule: Path | None = None,
                 timeout: float = 60) -> subprocess.Popen:
    """A `celery worker --beat` in its own process group (so a kill takes its pool children too)."""
    start = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--beat", "--loglevel", "INFO",
             "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
             "--schedule", str(schedule or log_path.with_suffix(".beat"))],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while b"ready." not in log_path.read_bytes()[start:]:
        if worker.poll() is not None:
            raise RuntimeError(log_path.read_text()[-3000:])
        if time.monotonic() > deadline:
            worker_kill(worker)
            raise RuntimeError("worker did not start: " + log_path.read_text()[-3000:])
        time.sleep(0.2)
    return worker


def worker_kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool children at once, as the OOM killer or a pulled plug would."""
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    worker.wait(timeout=30)


def worker_stop(worker: subprocess.Popen) -> None:
    """A polite stop (SIGTERM, then SIGKILL if it hangs)."""
    if worker.poll() is not None:
        return
    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker_kill(worker)
    except ProcessLookupError:
        pass


def worker_environ(*, database: dict, media_root: str, data_dir: str, public_base_url: str, secret_key: str,
                   **extra: str) -> dict[str, str]:
    """The environment of a worker sharing the test database (`connection.settings_dict`) and media folder."""
    return {
        **os.environ,
        "DATABASE_URL": (f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
                         f"{database['PORT'] or 5432}/{database['NAME']}"),
        "MEDIA_ROOT": media_root, "DATA_DIR": data_dir, "PUBLIC_BASE_URL": public_base_url, "SECRET_KEY": secret_key,
        # A lease far longer than the tests' deadlines: recovery must come from the sweep noticing that the
        # killed worker's processes are gone, within a couple of sweeps, not from the lease running out.
        "SWEEP_INTERVAL": "2", "VIDEO_LEASE_SECONDS": "600", **extra,
    }


def command_start(env: dict[str, str], log_path: Path, command: list[str], *, ready: bytes,
                  timeout: float = 60) -> subprocess.Popen:
    """A `manage.py <command>` in its own process group, once its log shows `ready`."""
    start = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), *command], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while ready not in log_path.read_bytes()[start:]:
        if process.poll() is not None or time.monotonic() > deadline:
            worker_kill(process)
            raise RuntimeError(f"{command[0]} did not start: " + log_path.read_text()[-3000:])
        time.sleep(0.1)
    return process


def scheduler_start(env: dict[str, str], log_path: Path, *args: str, timeout: float = 60) -> subprocess.Popen:
    """A `manage.py ticksessions` (the timed sessions' scheduler), once it has started."""
    return command_start(env, log_path, ["ticksessions", *args], ready=b"ticksessions: started", timeout=timeout)


def poller_start(env: dict[str, str], log_path: Path, *, timeout: float = 60) -> subprocess.Popen:
    """A `manage.py pollvendors` process (started beside workers that run with POLLER_IN_WORKER=false, so the
    test decides how many pollers there are and which one dies)."""
    return command_start(env, log_path, ["pollvendors"], ready=b"vendor poller", timeout=timeout)
