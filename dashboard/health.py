"""Readiness: the database, the cache, the broker, storage and the periodic sweeps, each checked for real.

The periodic sweep tasks call `sweep_done(name)`; the time lands in the shared cache, so the web process
(and /metrics) can tell how long ago the scheduler + worker last repaired lost work.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

SWEEPS = ("sessions_tick_due", "videos_poll_due", "videos_reap")
_STARTED = time.time()


def sweep_done(name: str) -> None:
    """Record that periodic sweep `name` just ran (one line at the end of each sweep task)."""
    try:
        cache.set(f"ops:sweep:{name}", time.time(), None)
    except Exception:  # a cache outage must not fail the sweep itself
        pass


def sweep_times() -> dict[str, float | None]:
    found = cache.get_many([f"ops:sweep:{name}" for name in SWEEPS])
    return {name: found.get(f"ops:sweep:{name}") for name in SWEEPS}


def stale_after() -> float:
    return float(settings.SWEEP_STALE_SECONDS)


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"vendor": connection.vendor}


def check_cache() -> dict[str, Any]:
    key, value = f"ops:readyz:{os.getpid()}", str(time.time())
    cache.set(key, value, 30)
    if cache.get(key) != value:
        raise RuntimeError("a value written to the cache did not read back")
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def queue_depths() -> dict[str, int]:
    """Messages waiting in each task queue at the broker (raises when the broker is unreachable)."""
    from dashboard.celery import app

    names = sorted({q.name for q in app.amqp.queues.values()} or {app.conf.task_default_queue})
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
        channel = conn.default_channel
        return {name: int(channel.queue_declare(queue=name, passive=False).message_count) for name in names}


def check_broker() -> dict[str, Any]:
    return {"queues": queue_depths()}


def check_storage() -> dict[str, Any]:
    from django.core.files.storage import FileSystemStorage, default_storage

    if isinstance(default_storage, FileSystemStorage):
        root = default_storage.location
        os.makedirs(root, exist_ok=True)
        if not os.access(root, os.W_OK):
            raise RuntimeError("the media folder is not writable")
        return {"backend": "filesystem"}
    storage: Any = default_storage
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        storage.connection.meta.client.head_bucket(Bucket=bucket)
        return {"backend": "s3", "bucket": bucket}
    storage.exists(".readyz")
    return {"backend": type(storage).__name__}


def check_sweep() -> dict[str, Any]:
    now = time.time()
    times = sweep_times()
    ages = {name: round(now - at, 1) for name, at in times.items() if at is not None}
    limit = stale_after()
    detail: dict[str, Any] = {"age_seconds": ages, "stale_after_seconds": limit}
    if not ages:
        # Grace for a fresh install: from the first time anyone (web, the CLI healthcheck) looked, kept in the
        # shared cache so a short-lived `manage.py health` process cannot stay "starting" forever.
        watching = cache.get_or_set("ops:sweep:watching-since", now, None)
        since = min(_STARTED, float(watching) if watching is not None else now)
        if now - since > limit:
            raise RuntimeError(f"no periodic sweep has run in {limit:.0f} s: is the scheduler (celery beat) up?")
        detail["note"] = "starting: no sweep recorded yet"
        return detail
    newest = min(ages.values())
    if newest > limit:
        raise RuntimeError(f"the last periodic sweep ran {newest:.0f} s ago (limit {limit:.0f} s)")
    return detail


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker, "storage": check_storage,
          "sweep": check_sweep}


def readiness(only: list[str] | None = None) -> tuple[bool, dict[str, Any]]:
    """(all ok, {check: {"status": "ok"|"error", ...}}). Error texts name the failure, never credentials."""
    from dashboard.logs import scrub

    results: dict[str, Any] = {}
    for name, check in CHECKS.items():
        if only and name not in only:
            continue
        try:
            results[name] = {"status": "ok", **check()}
        except Exception as e:  # any failure of a dependency is "not ready", reported, never a 500
            results[name] = {"status": "error", "error": scrub(f"{type(e).__name__}: {e}")[:300]}
    return all(r["status"] == "ok" for r in results.values()), results
