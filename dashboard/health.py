"""Readiness: the database, the cache, the broker, storage, the periodic sweeps, the session scheduler and the
vendor poller, each checked for real.

The periodic sweep tasks call `sweep_done(name)`; the time lands in the shared cache, so the web process
(and /metrics) can tell how long ago the scheduler + worker last repaired lost work. The session scheduler and
the vendor poller record heartbeats (dashboard.heartbeat); their checks weigh those against how late the work
is, read from the database (videos.backlog): a check fails when work is later than its limit and no live
process covers it, and warns (still ok) when it is late although one is alive (overloaded) or when none is.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from dashboard import heartbeat

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


class NotReady(RuntimeError):
    """A failed check that still has figures to show (the lag, the processes seen)."""

    def __init__(self, message: str, detail: dict[str, Any]) -> None:
        super().__init__(message)
        self.detail = detail


# kind -> (what an operator calls it, its command, "expected" setting, lag limit setting)
BACKGROUND = {
    "scheduler": ("session scheduler", "ticksessions", "SESSIONS_SCHEDULER_EXPECTED", "SESSIONS_LAG_LIMIT"),
    "poller": ("vendor poller", "pollvendors", "VENDOR_POLLER_EXPECTED", "VENDOR_POLL_LAG_LIMIT"),
}


def background_status(kind: str, *, here: bool = False) -> dict[str, Any]:
    """The scheduler's or poller's figures: work due and its lag (the database), the processes seen (their
    heartbeats), and `problem`: why it is not ready, or None. `here`: this host must run a live one (a
    container's own healthcheck, which must not fail for a process on another host)."""
    from videos import backlog

    what, command, expected_setting, limit_setting = BACKGROUND[kind]
    overdue = backlog.sessions_overdue() if kind == "scheduler" else backlog.polls_overdue()
    now = time.time()
    seen = heartbeat.beats(kind)
    alive = [b for b in seen if b.alive(now)]
    missing = heartbeat.uncovered(alive)
    limit, expected = float(getattr(settings, limit_setting)), bool(getattr(settings, expected_setting))
    detail: dict[str, Any] = {
        "due": overdue.due, "lag_seconds": round(overdue.lag_seconds, 1), "lag_limit_seconds": limit,
        "expected": expected, "alive": len(alive), "stale_after_seconds": float(settings.HEARTBEAT_STALE_SECONDS),
        "processes": [b.summary(now) for b in seen]}
    if missing and missing != ["*"]:
        detail["partitions_missing"] = missing
    problem = None
    late = overdue.lag_seconds > limit
    if here:
        if not any(b.host == heartbeat.host_name() for b in alive):
            problem = (f"no {command} process on this host ({heartbeat.host_name()}) has recorded a heartbeat "
                       f"in {settings.HEARTBEAT_STALE_SECONDS:g} s")
    elif late and missing and expected:
        who = "none is alive" if missing == ["*"] else f"no live one covers partition(s) {', '.join(missing)}"
        problem = (f"{what} work is {overdue.lag_seconds:.0f} s overdue (limit {limit:g} s; {overdue.due} due) "
                   f"and {who}: is `manage.py {command}` running?")
    elif late:
        detail["warning"] = (f"{overdue.lag_seconds:.0f} s overdue (limit {limit:g} s) with {len(alive)} "
                             f"{command} alive: overloaded, or stuck?" if alive else
                             f"{overdue.lag_seconds:.0f} s overdue (limit {limit:g} s): no {command} runs here")
    elif missing and expected:
        detail["warning"] = (f"no live {command} process" if missing == ["*"] else
                             f"no live {command} covers partition(s) {', '.join(missing)}") + \
            "; the sweeps do its work, later"
    detail["problem"] = problem
    return detail


def _background_check(kind: str, here: bool) -> dict[str, Any]:
    detail = background_status(kind, here=here)
    if problem := detail.pop("problem"):
        raise NotReady(problem, detail)
    return detail


def check_scheduler(*, here: bool = False) -> dict[str, Any]:
    return _background_check("scheduler", here)


def check_poller(*, here: bool = False) -> dict[str, Any]:
    return _background_check("poller", here)


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker, "storage": check_storage,
          "sweep": check_sweep, "scheduler": check_scheduler, "poller": check_poller}
BACKGROUND_CHECKS = {"scheduler": check_scheduler, "poller": check_poller}


def readiness(only: list[str] | None = None, *, here: bool = False) -> tuple[bool, dict[str, Any]]:
    """(all ok, {check: {"status": "ok"|"error", ...}}). Error texts name the failure, never credentials.
    `here`: the scheduler and poller checks ask for a live process on this host (see background_status)."""
    from dashboard.logs import scrub

    results: dict[str, Any] = {}
    for name, check in CHECKS.items():
        if only and name not in only:
            continue
        try:
            found = BACKGROUND_CHECKS[name](here=True) if here and name in BACKGROUND_CHECKS else check()
            results[name] = {"status": "ok", **found}
        except Exception as e:  # any failure of a dependency is "not ready", reported, never a 500
            results[name] = {"status": "error", "error": scrub(f"{type(e).__name__}: {e}")[:300],
                             **(e.detail if isinstance(e, NotReady) else {})}
    return all(r["status"] == "ok" for r in results.values()), results
