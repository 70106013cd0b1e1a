"""Heartbeats of the long-running processes: the session scheduler (`manage.py ticksessions`) and the vendor poller
(`manage.py pollvendors`). Each records in the shared cache that it is alive and what it did, so the web processes
(/readyz, /metrics, the admin) and `manage.py health` on any host see every one of them.

One key per process, `ops:beat:<kind>:<id>` (kept BEAT_KEEP_SECONDS after the last beat, so an operator still sees
a process that died), and one index per kind, `ops:beats:<kind>` (the ids, so a reader finds them on any cache
backend). A process writes its key at most every HEARTBEAT_INTERVAL seconds, and the index only when its id is
missing from it (at its first beat, or after another writer's read-modify-write lost it): so a loop iteration
costs at most one write, and most none. A process is alive while its last beat is younger than
HEARTBEAT_STALE_SECONDS and it did not say it stopped. Whether work is late is read from the database
(dashboard.health), never from what a heartbeat claims.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

KINDS = ("scheduler", "poller")
BEAT_KEEP_SECONDS = 3600  # a dead process stays listed this long after its last beat


def _key(kind: str, ident: str) -> str:
    return f"ops:beat:{kind}:{ident}"


def _index(kind: str) -> str:
    return f"ops:beats:{kind}"


def host_name() -> str:
    return socket.gethostname()[:60]


def partition_name(partition: tuple[int, int] | None) -> str:
    return f"{partition[0]}/{partition[1]}" if partition else ""


class Heartbeat:
    """The heartbeat of this process. `beat()` once per loop iteration: it writes at most every `every` seconds
    (HEARTBEAT_INTERVAL) and never raises (a cache outage must not stop the work)."""

    def __init__(self, kind: str, *, ident: str = "", partition: tuple[int, int] | None = None,
                 every: float | None = None) -> None:
        assert kind in KINDS, kind
        self.kind = kind
        self.host = host_name()
        self.pid = os.getpid()
        self.id = ident or f"{self.host}:{self.pid}:{secrets.token_hex(6)}"  # the poller's: its lease owner name
        self.partition = partition_name(partition)
        self.every = float(settings.HEARTBEAT_INTERVAL if every is None else every)
        self.started_at = time.time()
        self.last_work_at: float | None = None
        self._sent = float("-inf")  # time.monotonic() of the last write

    def beat(self, counters: dict[str, Any] | None = None, *, worked: bool = False, force: bool = False,
             stopped: bool = False) -> bool:
        """Note this process alive; `worked`: this iteration did something (a batch claimed, polls made);
        `counters`: its running totals. Returns whether it wrote (throttled unless `force` or `stopped`)."""
        now = time.time()
        if worked:
            self.last_work_at = now
        if not (force or stopped) and time.monotonic() - self._sent < self.every:
            return False
        self._sent = time.monotonic()
        record = {"kind": self.kind, "id": self.id, "host": self.host, "pid": self.pid, "partition": self.partition,
                  "started_at": self.started_at, "at": now, "last_work_at": self.last_work_at,
                  "stopped": stopped, "counters": counters or {}}
        try:
            cache.set(_key(self.kind, self.id), record, BEAT_KEEP_SECONDS)
            ids = cache.get(_index(self.kind)) or []
            if self.id not in ids:
                self._index_add(ids)
        except Exception:
            log.warning("heartbeat of %s %s not recorded", self.kind, self.id, exc_info=True)
            return False
        return True

    def _index_add(self, ids: list[str]) -> None:
        """Add this process to its kind's index, dropping processes whose beat has expired."""
        kept = cache.get_many([_key(self.kind, i) for i in ids])
        alive = [i for i in ids if _key(self.kind, i) in kept]
        cache.set(_index(self.kind), [*alive, self.id], None)


@dataclass
class Beat:
    """One process's last heartbeat, as a reader sees it."""

    kind: str
    id: str
    host: str
    pid: int
    partition: str
    started_at: float
    at: float
    last_work_at: float | None
    stopped: bool
    counters: dict[str, Any] = field(default_factory=dict)

    def age(self, now: float) -> float:
        return max(0.0, now - self.at)

    def alive(self, now: float) -> bool:
        return not self.stopped and self.age(now) <= float(settings.HEARTBEAT_STALE_SECONDS)

    def summary(self, now: float) -> dict[str, Any]:
        """For /readyz and `manage.py health`: who, alive or not, ages in seconds and the counters."""
        return {"id": self.id, "host": self.host, "pid": self.pid, "partition": self.partition or None,
                "alive": self.alive(now), "stopped": self.stopped, "beat_age_seconds": round(self.age(now), 1),
                "last_work_age_seconds": round(max(0.0, now - self.last_work_at), 1)
                if self.last_work_at is not None else None,
                "up_seconds": round(max(0.0, self.at - self.started_at), 1), **self.counters}


def beats(kind: str) -> list[Beat]:
    """Every process of `kind` that beat within BEAT_KEEP_SECONDS, alive or not (two cache reads)."""
    ids = cache.get(_index(kind)) or []
    found = cache.get_many([_key(kind, i) for i in ids])
    out = []
    for ident in ids:
        r = found.get(_key(kind, ident))
        if isinstance(r, dict):
            out.append(Beat(kind=kind, id=ident, host=str(r["host"]), pid=int(r["pid"]), partition=r["partition"],
                            started_at=float(r["started_at"]), at=float(r["at"]), last_work_at=r["last_work_at"],
                            stopped=bool(r["stopped"]), counters=r["counters"]))
    return sorted(out, key=lambda b: (b.host, b.pid, b.id))


def uncovered(alive: Iterable[Beat]) -> list[str]:
    """The partitions no live process covers: [] when one runs unpartitioned, or some N has every K/N alive;
    ["*"] when none is alive; otherwise the K/N missing for each N in use (schedulers run with --partition)."""
    alive = list(alive)
    if not alive:
        return ["*"]
    if any(not b.partition for b in alive):
        return []
    taken: dict[int, set[int]] = {}
    for b in alive:
        k, _, n = b.partition.partition("/")
        taken.setdefault(int(n), set()).add(int(k))
    missing: list[str] = []
    for parts, ks in sorted(taken.items()):
        if len(ks) == parts:
            return []
        missing += [f"{k}/{parts}" for k in range(parts) if k not in ks]
    return missing
