"""The session scheduler: timed sessions whose next video is due are claimed by the database, in batches.

One batch is one transaction: claim up to `limit` running sessions with `next_run_at <= now` (PostgreSQL:
`FOR UPDATE OF session SKIP LOCKED`, so several schedulers take disjoint batches and never wait on each other or
on a stop; SQLite: the IMMEDIATE transaction holds the database's write lock, which serialises schedulers and
every other writer), decide each session's outcome, insert the due videos with one INSERT and their charges with
one more (billing.credits_charge_many), move every session on with one UPDATE, and only after the commit send one
start message per video made. A scheduler killed anywhere in the batch loses nothing and duplicates nothing: the
transaction rolls back, its row locks go with its connection, and the sessions are due again for whoever claims
them next; a kill after the commit but before the start messages leaves queued videos that the sweep starts
(videos_poll_due_task). A session claimed, stopped or deleted elsewhere is locked while we hold it (a stop or a
delete waits for our commit, then cancels and refunds what we made); one they hold is skipped.

Fixed rate: the n-th video is due at the session's start + n × interval; after a video, `next_run_at` moves on by
exactly the interval from the slot it was made for, never from the time the tick ran, so lateness does not add
up. A session found more than a whole interval behind (the scheduler was down, or overloaded) makes one video,
for the latest slot that has passed, and skips the older ones (logged as `session.slots_skipped`): catching up
with a burst would hammer the vendor and the user's credits for videos nobody asked to come all at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import Value
from django.db.models.functions import Mod
from django.db.utils import DatabaseError, InterfaceError
from django.utils import timezone

from billing import services as billing
from billing.exceptions import InsufficientCredits
from dashboard.db import rows_update
from dashboard.heartbeat import Heartbeat
from videos import live
from videos.models import GenerationSession, Video
from videos.providers import LIVE, availability
from videos.services.failover import charge_key
from videos.services.sessions import budget_words, charge_note, session_finish_if_done, sessions_spent, video_new
from videos.services.withdraw import unstartable_reason
from webhooks import services as webhooks

log = logging.getLogger(__name__)
Running = GenerationSession.Status.RUNNING
UPDATED = ["videos_created", "next_run_at", "status", "error", "finished_at", "updated_at"]


@dataclass
class Ticked:
    """What one batch did. `late`: for each video made, seconds from its slot's due time to its creation."""

    claimed: int = 0
    videos: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  # sessions that will make no more videos
    errors: int = 0  # sessions ended in error: out of credits, or their model taken off sale
    skipped: int = 0  # slots skipped (more than an interval behind)
    late: list[float] = field(default_factory=list)
    seconds: float = 0.0  # the batch's transaction, claim to commit
    locked: float = 0.0  # of which the owners' accounts were locked (from the charge to the commit)
    charged_at: float = 0.0


def _slot(session: GenerationSession, now: datetime) -> tuple[datetime, int]:
    """The slot this tick makes a video for, and how many older slots it skips (fixed rate, no burst)."""
    assert session.next_run_at is not None
    step = timedelta(seconds=session.interval_seconds)
    behind = (now - session.next_run_at) // step
    if behind >= 1:
        return session.next_run_at + behind * step, behind
    return session.next_run_at, 0


def _off_sale(session: GenerationSession, provider: str, seen: dict[tuple[int, str], str]) -> str:
    """Why the session may make no more videos because its model went off sale (disabled, its vendor's key
    refused, shut down), in the user's words; "" when it may. A session with a fallback chain (its own
    `fallback_models`, or the operator's default fallback of its model) goes on: each new video is withdrawn to
    its fallback at dispatch (services.withdraw), as a single video would be."""
    if session.params.get("fallback_models") or session.model.fallback_id is not None:
        return ""
    key = (session.model_id, provider)
    if key not in seen:
        seen[key] = unstartable_reason(session.model, provider)
    return f"the model {session.model.model_id} was taken out of service" if seen[key] else ""


def _tick_locked(sessions: list[GenerationSession], now: datetime) -> Ticked:
    """Give each due session (its row locked by the caller) its next video, or end it. One transaction."""
    done = Ticked(claimed=len(sessions))
    spent = sessions_spent([s.public_id for s in sessions if s.budget_credits is not None])
    at_vendor: dict[str, bool] = {}
    off_sale: dict[tuple[int, str], str] = {}
    withdrawn: list[GenerationSession] = []
    making: list[tuple[GenerationSession, Video, datetime]] = []
    for session in sessions:
        slot, skipped = _slot(session, now)
        due = session.next_run_at
        price = session.model.price_for(session.params["duration"])
        if session.videos_created >= session.max_videos or (session.ends_at is not None and slot >= session.ends_at):
            session.next_run_at = None
        elif session.budget_credits is not None and spent[session.public_id] + price > session.budget_credits:
            # Like reaching max_videos: no more videos; it completes once those made have finished. (Only ticks
            # charge a running session, under its row lock, so the sum cannot grow behind our back.)
            session.error = budget_words(session.budget_credits)
            session.next_run_at = None
        else:
            provider = session.model.provider
            if provider not in at_vendor:
                at_vendor[provider] = availability(provider) == LIVE
            if why := _off_sale(session, "local" if not at_vendor[provider] else provider, off_sale):
                session.status = GenerationSession.Status.ERROR
                session.error = f"Stopped: {why}; no more videos will be made."
                session.finished_at = now
                session.next_run_at = None
                withdrawn.append(session)
                continue
            video = video_new(session, sequence=session.videos_created, at_vendor=at_vendor[provider])
            making.append((session, video, slot))
            if skipped:
                done.skipped += skipped
                log.warning("session.slots_skipped", extra={"session_id": session.public_id, "skipped": skipped,
                                                            "due": str(due)})
            continue
        done.ended.append(session.pk)
    # The videos and the sessions' new times are written first, as if every charge will pass (it nearly always
    # does); the owners' accounts are locked last, so two batches that share owners overlap in everything but the
    # charge itself (and the lock order is every writer's: session, video, credit account).
    made = [(video, slot) for _, video, slot in making]
    Video.objects.bulk_create([video for video, _ in made])
    created = timezone.now()
    for session, _, slot in making:
        session.videos_created += 1
        following = slot + timedelta(seconds=session.interval_seconds)
        if session.videos_created >= session.max_videos or (session.ends_at and following >= session.ends_at):
            session.next_run_at = None
            done.ended.append(session.pk)
        else:
            session.next_run_at = following
    for session in sessions:
        session.updated_at = created
    rows_update(GenerationSession, UPDATED, sessions)
    done.charged_at = time.monotonic()
    charged = billing.credits_charge_many([
        billing.Charge(user_id=session.owner_id, amount=video.credits_used, key=charge_key(video.public_id, 0),
                       video_id=video.public_id, session_id=session.public_id, note=charge_note(video))
        for session, video, _ in making])
    refused = [(session, video, outcome) for (session, video, _), outcome in zip(making, charged, strict=True)
               if isinstance(outcome, InsufficientCredits)]
    if refused:  # the owner cannot pay: that video never was (deleted before anyone saw it), the session ends
        Video.objects.filter(pk__in=[video.pk for _, video, _ in refused]).delete()
        for session, _, outcome in refused:
            session.videos_created -= 1
            session.status = GenerationSession.Status.ERROR
            session.error = f"Stopped: out of credits. {outcome}"
            session.finished_at = now
            session.next_run_at = None
            if session.pk in done.ended:
                done.ended.remove(session.pk)
        rows_update(GenerationSession, UPDATED, [session for session, _, _ in refused])
        for session, _, _ in refused:
            webhooks.event_emit(event="session.error", obj=session)
        gone = {video.pk for _, video, _ in refused}
        made = [(video, slot) for video, slot in made if video.pk not in gone]
    for session in withdrawn:
        webhooks.event_emit(event="session.error", obj=session)
    live.changed([session.pk for session, _, _ in making] + [session.pk for session in withdrawn])  # new videos, or an end: long-polls answer on commit
    done.late = [(created - slot).total_seconds() for _, slot in made]
    done.videos = [video.pk for video, _ in made]
    done.errors = len(refused) + len(withdrawn)
    if done.videos:
        transaction.on_commit(lambda: videos_start(done.videos))
    return done


def videos_start(pks: Iterable[int]) -> None:
    """Send one start message per video made (after the commit), over one broker connection. A broker outage
    loses nothing: the videos are queued in the database, and the sweep starts those whose message never came."""
    from videos.tasks import video_start_task

    try:
        with video_start_task.app.producer_or_acquire() as producer:
            for pk in pks:
                video_start_task.apply_async((pk,), producer=producer)
    except Exception:
        log.exception("sessions.scheduler could not send start messages; the sweep will start those videos")


def _finish(ticked: Ticked) -> Ticked:
    for pk in ticked.ended:  # most still have a video in the making: this returns at once for them
        session_finish_if_done(pk)
    return ticked


def sessions_tick_due(*, limit: int = 200, overdue: float = 0.0, partition: tuple[int, int] | None = None) -> Ticked:
    """Claim up to `limit` running sessions due (at least `overdue` seconds ago) and tick them: one transaction.

    Sessions another transaction holds (another scheduler's batch, a stop, a delete) are skipped, not waited for.
    `partition` (k, n): only sessions whose owner id is k modulo n, so n schedulers never share an owner's account.
    """
    cutoff = timezone.now() - timedelta(seconds=overdue)
    due = GenerationSession.objects.filter(status=Running, next_run_at__lte=cutoff)
    if partition is not None:
        due = due.alias(part=Mod("owner_id", Value(partition[1]))).filter(part=partition[0])
    if connection.vendor == "sqlite" and not due.exists():
        return Ticked()  # a plain read first: SQLite's IMMEDIATE transaction would take the write lock for nothing
    began = time.monotonic()
    with transaction.atomic():
        sessions = list(due.select_for_update(skip_locked=True, of=("self",)).select_related("model")
                        .order_by("next_run_at")[:limit])
        ticked = _tick_locked(sessions, timezone.now())
    ended = time.monotonic()
    ticked.seconds, ticked.locked = ended - began, (ended - ticked.charged_at) if ticked.charged_at else 0.0
    return _finish(ticked)


def session_tick(session_pk: int) -> Ticked:
    """Tick one session now if it is due (waits for its row lock, unlike a batch). Idempotent: the session row is
    locked and (session, sequence) is unique, so a duplicated tick cannot make a second video for a slot."""
    with transaction.atomic():
        # Lock the session row only: joined owner/model rows locked too deadlock with session creation.
        session = GenerationSession.objects.select_for_update(of=("self",)).select_related("model").filter(
            pk=session_pk, status=Running, next_run_at__lte=timezone.now()).first()
        ticked = _tick_locked([session] if session is not None else [], timezone.now())
    return _finish(ticked)


def next_due(partition: tuple[int, int] | None = None) -> datetime | None:
    """When the earliest running session (of `partition`) is next due (None: no timed session is running)."""
    rows = GenerationSession.objects.filter(status=Running, next_run_at__isnull=False)
    if partition is not None:
        rows = rows.alias(part=Mod("owner_id", Value(partition[1]))).filter(part=partition[0])
    return rows.order_by("next_run_at").values_list("next_run_at", flat=True).first()


@dataclass
class SchedulerStats:
    """Counters of one scheduler process (logged every minute and when it stops)."""

    loops: int = 0
    batches: int = 0  # loops that claimed something
    claimed: int = 0
    videos: int = 0
    ended: int = 0
    errors: int = 0
    skipped: int = 0
    queries: int = 0
    failures: int = 0  # loops that failed (a database outage, a bug) and were retried
    seconds: float = 0.0  # in batch transactions
    locked: float = 0.0  # of which with the owners' accounts locked
    late: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))  # the last videos' lateness

    def add(self, ticked: Ticked) -> None:
        self.loops += 1
        self.batches += bool(ticked.claimed)
        self.claimed += ticked.claimed
        self.videos += len(ticked.videos)
        self.ended += len(ticked.ended)
        self.errors += ticked.errors
        self.skipped += ticked.skipped
        self.seconds += ticked.seconds
        self.locked += ticked.locked
        self.late.extend(ticked.late)

    def beat(self) -> dict[str, int]:
        """The totals a heartbeat carries (cheap: no percentiles)."""
        return {"loops": self.loops, "batches": self.batches, "sessions_ticked": self.claimed,
                "videos_made": self.videos, "failures": self.failures}

    def fields(self) -> dict[str, Any]:
        late = sorted(self.late)
        pick = (lambda q: round(late[min(len(late) - 1, int(q * len(late)))], 3)) if late else (lambda q: None)
        return {"loops": self.loops, "batches": self.batches, "claimed": self.claimed, "videos": self.videos, "ended": self.ended,
                "errors": self.errors, "slots_skipped": self.skipped, "queries": self.queries, "failures": self.failures,
                "batch_seconds": round(self.seconds, 3), "accounts_locked_seconds": round(self.locked, 3),
                "late_p50": pick(0.5), "late_p95": pick(0.95), "late_max": late[-1] if late else None}


def scheduler_run(*, stop: threading.Event, batch: int = 200, idle: float = 1.0, gap: float = 0.05,
                  stats: SchedulerStats | None = None, report_every: float = 60.0,
                  partition: tuple[int, int] | None = None, heartbeat: Heartbeat | None = None) -> SchedulerStats:
    """Tick due sessions until `stop` is set: a full batch is followed at once by the next; otherwise sleep until
    the earliest session is due (at least `gap`, so a busy database is not spun on; at most `idle`, so a session
    changed by hand is seen). Database errors (a restart, a lost connection) are logged and retried after `idle`.
    `partition`: see sessions_tick_due. `heartbeat`: beaten once per loop (it throttles its own writes), and a last
    time, as stopped, on the way out.
    """
    stats = stats or SchedulerStats()

    def count(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        stats.queries += 1
        return execute(sql, params, many, context)

    reported = checked = time.monotonic()
    while not stop.is_set():
        if time.monotonic() - checked > 5:  # a long-running process: honour CONN_MAX_AGE, drop broken connections
            close_old_connections()
            checked = time.monotonic()
        wait = gap
        claimed = 0
        try:
            with connection.execute_wrapper(count):
                ticked = sessions_tick_due(limit=batch, partition=partition)
                stats.add(ticked)
                claimed = ticked.claimed
                if ticked.claimed < batch:
                    due = next_due(partition)
                    ahead = (due - timezone.now()).total_seconds() if due is not None else idle
                    wait = min(idle, max(gap, ahead))
                else:
                    wait = 0.0
        except (DatabaseError, InterfaceError):
            log.exception("sessions.scheduler database error; retrying")
            connection.close()
            stats.failures += 1
            wait = idle
        except Exception:  # a bug or an outage must not end the process (`serve` stops everything when one ends)
            log.exception("sessions.scheduler batch failed; retrying")
            stats.failures += 1
            wait = idle
        if heartbeat is not None:
            heartbeat.beat(stats.beat(), worked=claimed > 0)
            wait = min(wait, heartbeat.every)  # a long --idle must not let the heartbeat go stale
        if time.monotonic() - reported >= report_every:
            log.info("sessions.scheduler", extra=stats.fields())
            reported = time.monotonic()
        if wait:
            stop.wait(wait)
    if heartbeat is not None:
        heartbeat.beat(stats.beat(), stopped=True)
    return stats
