"""The vendor poller: every vendor job whose next poll is due, polled in batches by one long-lived process.

One Poller claims due videos from the database in batches (stage submitted, `next_poll_at <= now`, no live
lease), `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite's IMMEDIATE transactions serialise the claim), and
takes a lease on each (videos.lifecycle rules: a claim is a compare-and-set, so two pollers never hold one
video). Each vendor has its own small pool of threads, as many as its `poll_concurrency`, sharing the
process's one provider (so one requests.Session and its kept-alive connections): a vendor never sees more
polls at once than that, however many videos are due. Answers are written back in batches: one UPDATE per
group of identical values (progress, vendor status, next poll), each conditional on the lease still being
ours. A completed job is moved to `storing` under a hand-off lease and given to a Celery task
(`video_fetch_task`: asks the vendor once more for a fresh result link, downloads, stores); a failed one goes through vendor_fail (failover, or the
failure and its one refund).

Retry-After: the answer's delay is the video's next poll (never sooner), and the vendor is paused in this
poller until then: queued polls of that vendor are put back unasked, with the same next poll.

Crash-safety: a poller killed mid-batch leaves leases that expire (or that the sweep ends at once when the
process is gone, lifecycle.leases_of_dead_processes_end); their `next_poll_at` is unchanged and due, so the
next batch takes them. An answer that was not written is asked again. Nothing here charges or refunds.

Why threads and not asyncio: the vendor adapters are synchronous requests code (error mapping, scrubbing,
Retry-After, downloads) shared with submit and the tests; at 50 ms per answer, 10,000 polls a minute need
only about 9 requests in flight, which a few threads per vendor carry with the GIL free while they wait.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.heartbeat import Heartbeat
from videos import lifecycle, live
from videos.models import Video
from videos.providers import get_provider
from videos.providers.base import Job, JobStatus, ProviderError, ProviderUnavailable
from videos.providers.http import POOL_CONNECTIONS
from videos.services.job import job_for_video
from videos.services.results import WORDS, vendor_fail, video_fail

log = logging.getLogger(__name__)
Stage = Video.Stage

DEFAULT_POLL_CONCURRENCY = 32
FLUSH_AFTER = 0.1  # seconds an answer may wait to be written with others
FLUSH_AT = 100  # answers that are written at once without waiting
VENDORS_REFRESH = 2.0  # seconds between looks for which vendors have jobs in flight


def poll_concurrency(vendor: str) -> int:
    """Polls of `vendor` at once from one poller (<VENDOR>_POLL_CONCURRENCY): at most the kept-alive pool."""
    value = settings.PROVIDER_SETTINGS.get(vendor, {}).get("poll_concurrency") or DEFAULT_POLL_CONCURRENCY
    return max(1, min(int(value), POOL_CONNECTIONS))


@dataclass
class Claimed:
    """A video this poller holds the lease on, with what its poll needs (read once, at the claim)."""

    pk: int
    public_id: str
    vendor: str
    task_id: str
    job: Job
    attempts: int
    progress: int
    interval: float
    taken: float  # time.monotonic() of the claim


@dataclass
class Answer:
    """What one poll learned. kind: progress | later | deferred | completed | failed."""

    item: Claimed
    kind: str
    delay: float = 0.0
    status: JobStatus | None = None
    code: str = ""
    detail: str = ""
    retry_after: float | None = None  # the vendor asked us to wait (429/503 Retry-After)
    at: datetime | None = None  # when the answer came: the next poll counts from here, never from the write


def _ceil(when: datetime) -> datetime:
    """`when` rounded up to the next tenth of a second."""
    extra = when.microsecond % 100_000
    return when + timedelta(microseconds=100_000 - extra) if extra else when


def _due(now: datetime) -> Q:
    return (Q(stage=Stage.SUBMITTED, next_poll_at__lte=now) & ~Q(vendor_task_id="")
            & (Q(lease_until__isnull=True) | Q(lease_until__lt=now)))


class Poller:
    """Polls due vendor jobs until `stop` is set. Several at once (threads, processes, hosts) are safe.

    Three kinds of thread, so that no database wait ever idles the vendor connections: the caller's claims
    (and renews leases), each vendor's pool polls (HTTP only), and one writer writes the answers in batches.
    """

    def __init__(self, *, owner: str | None = None, on_answer: Callable[[Answer], None] | None = None,
                 heartbeat: bool = False) -> None:
        self.owner = owner or lifecycle.new_owner()
        self.on_answer = on_answer  # tests and the bench watch answers here
        # The `pollvendors` process's heartbeat (not the sweep's bounded passes: they must not pass for a poller).
        self.heartbeat = Heartbeat("poller", ident=self.owner) if heartbeat else None
        self.failures = 0  # runs ended by a database error (the command retries)
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._in_hand: dict[int, Claimed] = {}
        self._lock = threading.Lock()  # _in_hand and polls
        self._freed = threading.Event()  # a poll was answered: there is room to claim
        self._answers: queue.Queue[Answer] = queue.Queue()
        self._pending: list[Answer] = []
        self._paused: dict[str, tuple[float, datetime]] = {}  # vendor -> (monotonic, wall) end of Retry-After
        self._paused_lock = threading.Lock()
        self._vendors: list[str] = []
        self._vendors_at = -VENDORS_REFRESH
        self._dry: dict[str, float] = {}  # vendor -> monotonic time before which a claim would find nothing
        self._renewed = time.monotonic()
        self.polls = 0

    # --- the loop --------------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, drain: bool = False, until: float | None = None) -> int:
        """Poll until `stop` is set (or, with `drain`, until nothing is due; `until`: a time.monotonic() end).
        Returns the polls made. On the way out every poll in hand is answered and written."""
        start = self.polls
        done = threading.Event()
        writer = threading.Thread(target=self._write_loop, args=(done,), name="poll-writer", daemon=True)
        writer.start()
        try:
            while not stop.is_set() and (until is None or time.monotonic() < until):
                claimed = self.fill()
                self.renew()
                busy = self._held()
                self.beat(worked=claimed > 0, in_hand=busy)
                if not busy and not claimed:
                    if drain:
                        break
                    stop.wait(self.idle_wait())
                elif not claimed:
                    self._freed.wait(0.05)
                self._freed.clear()
        finally:
            while self._held():
                self._freed.wait(0.05)
                self._freed.clear()
            done.set()
            writer.join()
        return self.polls - start

    def beat(self, *, worked: bool = False, in_hand: int = 0, stopped: bool = False) -> None:
        """Note this poller alive (throttled by the heartbeat: one cache write every HEARTBEAT_INTERVAL at most)."""
        if self.heartbeat is not None:
            self.heartbeat.beat({"polls": self.polls, "in_hand": in_hand, "failures": self.failures},
                                worked=worked, stopped=stopped)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        self._pools.clear()

    def _held(self) -> int:
        with self._lock:
            return len(self._in_hand)

    def idle_wait(self) -> float:
        """Seconds until the earliest next poll (at most 1 s; a new job may be submitted any time)."""
        nxt = (Video.objects.filter(stage=Stage.SUBMITTED, next_poll_at__isnull=False).exclude(vendor_task_id="")
               .order_by("next_poll_at").values_list("next_poll_at", flat=True).first())
        if nxt is None:
            return 1.0
        return max(0.02, min(1.0, (nxt - timezone.now()).total_seconds()))

    # --- claiming --------------------------------------------------------------------------------------
    def active_vendors(self) -> list[str]:
        now = time.monotonic()
        if now - self._vendors_at >= VENDORS_REFRESH:
            self._vendors = sorted(set(Video.objects.filter(stage=Stage.SUBMITTED).exclude(vendor_task_id="")
                                       .values_list("provider", flat=True).distinct()))
            self._vendors_at = now
        return self._vendors

    def fill(self) -> int:
        """Claim due videos for every vendor with room (three times its concurrency in hand keeps its threads
        busy; a claim waits until it can take at least one concurrency's worth, so batches stay large)."""
        held: dict[str, int] = defaultdict(int)
        with self._lock:
            for item in self._in_hand.values():
                held[item.vendor] += 1
        claimed = 0
        now = time.monotonic()
        for vendor in self.active_vendors():
            room = 3 * poll_concurrency(vendor) - held[vendor]
            if room < poll_concurrency(vendor) or self._paused_until(vendor) or \
                    self._dry.get(vendor, 0) > now:
                continue
            items = self.claim(vendor, room)
            if len(items) < room:
                self._dry[vendor] = now + 0.05  # nothing more due right now: ask again shortly, not at once
            for item in items:
                self._start(item)
            claimed += len(items)
        return claimed

    def claim(self, vendor: str, limit: int) -> list[Claimed]:
        """Take the lease on up to `limit` due videos of `vendor`, oldest due first; skip rows another poller
        is claiming. Past-deadline ones are failed (and refunded) here instead of polled."""
        now = timezone.now()
        with self._lock:
            mine = list(self._in_hand)
        due = Video.objects.filter(_due(now), provider=vendor).exclude(pk__in=mine)
        with transaction.atomic():
            pks = list(due.select_for_update(skip_locked=True).order_by("next_poll_at", "pk")
                       .values_list("pk", flat=True)[:limit])
            if not pks:
                return []
            due.filter(pk__in=pks).update(lease_owner=self.owner, lease_until=now + timedelta(
                seconds=lifecycle.lease_seconds()), updated_at=now)
        videos = Video.objects.select_related("model").filter(pk__in=pks, lease_owner=self.owner,
                                                                stage=Stage.SUBMITTED)
        provider = get_provider(vendor)
        items, late = [], []
        for video in videos:
            if video.deadline_at and now > video.deadline_at:
                late.append(video.pk)
                continue
            items.append(Claimed(pk=video.pk, public_id=video.public_id, vendor=vendor,
                                 task_id=video.vendor_task_id, job=job_for_video(video, images=False),
                                 attempts=video.attempts, progress=video.progress,
                                 interval=provider.poll_interval, taken=time.monotonic()))
        for pk in late:
            video_fail(pk, error=WORDS["timeout"], code="timeout", detail="the vendor did not finish in time")
        return items

    def _start(self, item: Claimed) -> None:
        pool = self._pools.get(item.vendor)
        if pool is None:
            pool = self._pools[item.vendor] = ThreadPoolExecutor(
                poll_concurrency(item.vendor), thread_name_prefix=f"poll-{item.vendor}")
        with self._lock:
            self._in_hand[item.pk] = item
        pool.submit(self._poll, item)

    # --- one poll (on a vendor thread: HTTP only, no database) --------------------------------------------
    def _paused_until(self, vendor: str) -> datetime | None:
        with self._paused_lock:
            pause = self._paused.get(vendor)
            if pause is None or pause[0] <= time.monotonic():
                return None
            return pause[1]

    def _pause(self, vendor: str, seconds: float) -> None:
        with self._paused_lock:
            end = time.monotonic() + seconds
            if vendor not in self._paused or self._paused[vendor][0] < end:
                self._paused[vendor] = (end, timezone.now() + timedelta(seconds=seconds))

    def _poll(self, item: Claimed) -> None:
        try:
            answer = self._ask(item)
        except BaseException as e:  # noqa: BLE001 - never lose track of a video in hand
            answer = Answer(item, "later", delay=item.interval, code="vendor_unavailable", detail=repr(e)[:200])
        answer.at = timezone.now()
        self._answers.put(answer)
        with self._lock:
            del self._in_hand[item.pk]
            if answer.kind != "deferred":
                self.polls += 1
        self._freed.set()
        if self.on_answer is not None:
            self.on_answer(answer)

    def _ask(self, item: Claimed) -> Answer:
        if (pause := self._paused_until(item.vendor)) is not None:
            return Answer(item, "deferred", delay=max(0.0, (pause - timezone.now()).total_seconds()))
        provider = get_provider(item.vendor)
        try:
            status = provider.poll(item.task_id, item.job)
        except ProviderUnavailable as e:
            if e.retry_after is not None:
                self._pause(item.vendor, e.retry_after)
                delay = e.retry_after
            else:
                delay = min(600.0, item.interval * 2 ** (item.attempts + 1))
            return Answer(item, "later", delay=delay, code=e.code, detail=e.message, retry_after=e.retry_after)
        except ProviderError as e:
            return Answer(item, "failed", code=e.code, detail=e.message)
        except Exception as e:  # noqa: BLE001 - an adapter surprised by an answer: back off, keep polling others
            log.exception("poll of %s at %s failed", item.public_id, item.vendor)
            return Answer(item, "later", delay=min(600.0, item.interval * 2 ** (item.attempts + 1)),
                          code="vendor_unavailable", detail=f"{item.vendor}: {type(e).__name__}")
        if status.state == JobStatus.FAILED:
            return Answer(item, "failed", status=status, code=status.error_code or "vendor_error",
                          detail=status.error or "failed")
        if status.state == JobStatus.COMPLETED:
            return Answer(item, "completed", status=status)
        return Answer(item, "progress", status=status, delay=status.poll_after or item.interval)

    # --- answers (on the writer thread) -------------------------------------------------------------------
    def _write_loop(self, done: threading.Event) -> None:
        """Take answers as they come and write them in batches (every FLUSH_AFTER s, or FLUSH_AT answers)."""
        try:
            while True:
                first = time.monotonic()
                while len(self._pending) < FLUSH_AT:
                    left = FLUSH_AFTER - (time.monotonic() - first)
                    try:
                        self._pending.append(self._answers.get(timeout=max(0.0, left)) if left > 0
                                             else self._answers.get_nowait())
                    except queue.Empty:
                        break
                if self._pending:
                    try:
                        self.flush()
                    except Exception:  # a database outage: these answers are asked again once their leases end
                        log.exception("vendor poller: %d answers not written", len(self._pending))
                        self._pending = []
                        connection.close()
                elif done.is_set():
                    return
        finally:
            connection.close()  # this thread's own connection

    def flush(self) -> None:
        """Write the pending answers: a few UPDATEs for the many that only move the next poll, one step each
        for those that complete or fail."""
        answers, self._pending = self._pending, []
        now = timezone.now()
        # Rows that get the same values share one UPDATE, only where the lease is still this poller's. The next
        # poll is rounded UP to a tenth of a second (never sooner than asked), so a batch has a few groups.
        groups: dict[tuple, list[int]] = defaultdict(list)
        for a in answers:
            if a.kind not in ("progress", "later", "deferred"):
                continue
            fields: tuple = (("next_poll_at", _ceil((a.at or now) + timedelta(seconds=a.delay))),)
            if a.kind == "progress":
                assert a.status is not None
                fields += (("vendor_status", a.status.vendor_status[:64]),
                           ("progress", min(99, a.status.progress or a.item.progress)), ("attempts", 0))
            elif a.kind == "later":
                fields += (("attempts", a.item.attempts + 1), ("error_detail", a.detail[:4000]))
            groups[fields].append(a.item.pk)
        for fields, pks in groups.items():
            Video.objects.filter(pk__in=pks, lease_owner=self.owner, stage=Stage.SUBMITTED).update(
                lease_owner="", lease_until=None, updated_at=now, **dict(fields))
        # Progress a client can see moved: its long-polls and live streams (dashboard cards too) answer.
        live.changed_videos([a.item.pk for a in answers if a.kind == "progress" and a.status is not None
                             and min(99, a.status.progress or a.item.progress) != a.item.progress])
        waits: dict[str, float] = {}
        for a in answers:
            if a.retry_after is not None:
                waits[a.item.vendor] = max(waits.get(a.item.vendor, 0.0), a.retry_after)
        for vendor, seconds in waits.items():
            # The vendor's Retry-After is about our key, not one job: no poller asks it anything sooner.
            end = now + timedelta(seconds=seconds)
            Video.objects.filter(_due(now), provider=vendor).update(next_poll_at=end, updated_at=now)
            Video.objects.filter(stage=Stage.SUBMITTED, provider=vendor, next_poll_at__gt=now,
                                 next_poll_at__lt=end, lease_until__isnull=True).update(next_poll_at=end, updated_at=now)
        for a in answers:
            if a.kind == "later":
                log.warning("video.retry", extra={"video_id": a.item.public_id, "vendor": a.item.vendor,
                                                  "attempt": a.item.attempts + 1, "step": "poll", "delay": a.delay,
                                                  "code": a.code, "detail": a.detail[:500]})
            elif a.kind == "completed":
                self._hand_off(a)
            elif a.kind == "failed":
                vendor_fail(a.item.pk, task_id=a.item.task_id, code=a.code, detail=a.detail)

    def _hand_off(self, answer: Answer) -> None:
        """Move a finished job to storing under a fresh lease named for the fetch, and send the fetch task once
        that is committed. A lost or duplicated message is harmless: the fetch adopts the lease by its name
        (once), and the sweep re-sends a fetch for a storing video whose lease expired."""
        from videos.tasks import video_fetch_task

        status = answer.status
        assert status is not None
        handoff = lifecycle.new_owner()
        with transaction.atomic():
            if lifecycle.move(answer.item.pk, Stage.STORING, frm=(Stage.SUBMITTED,), owner=self.owner,
                              lease_owner=handoff, vendor_status=status.vendor_status[:64], next_poll_at=None):
                pk = answer.item.pk
                transaction.on_commit(lambda: video_fetch_task.delay(pk, handoff))

    def renew(self) -> None:
        """Keep the leases of polls in hand (a slow vendor): renewed in one UPDATE every third of a lease."""
        now = time.monotonic()
        third = lifecycle.lease_seconds() / 3
        if now - self._renewed < min(third, 10.0):
            return
        self._renewed = now
        with self._lock:
            old = [item for item in self._in_hand.values() if now - item.taken >= third]
        if old:
            at = timezone.now()
            Video.objects.filter(pk__in=[item.pk for item in old], lease_owner=self.owner).update(
                lease_until=at + timedelta(seconds=lifecycle.lease_seconds()), updated_at=at)
            for item in old:
                item.taken = now


def vendor_poll_due(*, seconds: float) -> int:
    """One bounded pass of a poller (the sweep's fallback when polls are overdue): polls made."""
    poller = Poller()
    try:
        return poller.run(threading.Event(), drain=True, until=time.monotonic() + seconds)
    finally:
        poller.close()
