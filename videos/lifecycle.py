"""The one owner of a video's stage: every move is a conditional UPDATE from the stages it may leave.

A move that updates 0 rows lost a race (another run, a stop, a delete, the reaper got there first) and its
caller backs off. Work in hand (submitting, rendering, storing, one poll) is claimed with a database lease:
`lease_owner` names the run (host:pid:token), `lease_until` says until when; the run renews it while it
works, and the sweep re-sends anything whose lease has expired. Nothing here lives in a cache: a lease
cannot outlive its process by more than VIDEO_LEASE_SECONDS.

    queued ──► dispatched ──► submitting ──► submitted ──► storing ──► done
       │  ▲                                        │           ▲ │
       │  └──────── failover to the next model ────┴───────────┼─┘
       └──────────────────────────────► rendering ────────────┘
    any stage before done ──► failed | cancelled   (refunded once, in the same transaction)
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from videos import live
from videos.models import Video

Stage = Video.Stage
log = logging.getLogger(__name__)

# The client-facing status of each stage (the spec's four words).
STATUS = {
    Stage.QUEUED: Video.Status.PENDING,
    Stage.DISPATCHED: Video.Status.PROCESSING,
    Stage.SUBMITTING: Video.Status.PROCESSING,
    Stage.SUBMITTED: Video.Status.PROCESSING,
    Stage.RENDERING: Video.Status.PROCESSING,
    Stage.STORING: Video.Status.PROCESSING,
    Stage.DONE: Video.Status.COMPLETED,
    Stage.FAILED: Video.Status.FAILED,
    Stage.CANCELLED: Video.Status.FAILED,
}
FINAL = (Stage.DONE, Stage.FAILED, Stage.CANCELLED)
ACTIVE = tuple(s for s in Stage if s not in FINAL)
LEASED = (Stage.SUBMITTING, Stage.RENDERING, Stage.STORING)  # a worker must hold the lease to be here

# Which stages each stage may be entered from. A lease holder may also re-enter its own stage (renewal).
ALLOWED = {
    # Back to the queue: vendor busy (429); or failover after acceptance (services.failover): the vendor failed
    # the job transiently while submitted or while we fetched its result, and the next model of the chain takes it.
    Stage.QUEUED: (Stage.QUEUED, Stage.DISPATCHED, Stage.SUBMITTING, Stage.SUBMITTED, Stage.STORING),
    Stage.DISPATCHED: (Stage.QUEUED,),
    Stage.SUBMITTING: (Stage.QUEUED, Stage.DISPATCHED, Stage.SUBMITTING),
    Stage.SUBMITTED: (Stage.SUBMITTING, Stage.SUBMITTED, Stage.STORING),
    Stage.RENDERING: (Stage.QUEUED, Stage.RENDERING, Stage.STORING),
    Stage.STORING: (Stage.SUBMITTED, Stage.RENDERING, Stage.STORING),
    Stage.DONE: (Stage.STORING,),
    Stage.FAILED: ACTIVE,
    Stage.CANCELLED: ACTIVE,
}


# The webhook event of each client-facing status a move can reach (pending has none).
EVENTS = {Video.Status.PROCESSING: "video.processing", Video.Status.COMPLETED: "video.completed",
          Video.Status.FAILED: "video.failed"}


def _announce(pk: int | list[int], to: str, previous: set[str], *, run: str | None) -> None:
    """Tell operators and subscribers about a move that happened (in the mover's transaction).

    Every move is one `video.transition` log line with the video, its session, vendor and attempt bound; a move
    that changed what clients see (the spec's status) also sends its webhook event, whose payload is the video as
    this transaction sees it (the deliveries exist only if it commits).
    """
    rows = Video.objects.filter(pk__in=pk if isinstance(pk, list) else [pk]).values(
        "pk", "public_id", "owner_id", "session_id", "session__public_id", "provider", "attempts")
    event = EVENTS.get(STATUS[to])
    changed = event is not None and STATUS[to] not in previous  # (in a mixed batch: not known to have changed)
    rows = list(rows)
    live.changed(sorted({row["session_id"] for row in rows}))  # long-polls and live streams wake on commit
    for row in rows:
        log.info("video.transition", extra={
            "video_id": row["public_id"], "session_id": row["session__public_id"], "vendor": row["provider"],
            "attempt": row["attempts"], "stage": to, "status": STATUS[to], "from": sorted(previous), "run": run})
        if changed:
            from webhooks import services as webhooks

            video = Video(pk=row["pk"], owner_id=row["owner_id"], session_id=row["session_id"])
            webhooks.event_emit(event=event, obj=video)


class TransitionError(ValueError):
    """A move the state machine does not allow (a bug in the caller, not a lost race)."""


def lease_seconds() -> float:
    return float(settings.VIDEO_LEASE_SECONDS)


def new_owner() -> str:
    """A name for one run: the host and process (to tell who held a lease) and a token unique to the run."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(6)}"


def owner_token(owner: str) -> str:
    """The run's own token (the last part of its owner name): it names the run's files."""
    return owner.rsplit(":", 1)[-1] if owner else ""


def move(pk: int | list[int], to: str, *, frm: tuple[str, ...] | None = None, owner: str | None = None,
         match: Mapping[str, object] | None = None, **fields: object) -> int:
    """Move video `pk` to stage `to` if it is in one of `frm` (default: every stage `to` may be entered from).

    With `owner`, the move also requires that run to hold the lease (its lease is kept and renewed when `to` is
    a leased stage, dropped otherwise). Returns the rows moved: 0 means someone else has the video.
    `pk` may be a list (a batch of the same move, e.g. a dispatch or a stop). `match`: more conditions on the row
    (e.g. the vendor job a failure is about, so a failure of an attempt that was failed over ends nothing).
    """
    allowed = ALLOWED[to]
    frm = allowed if frm is None else frm
    if not set(frm) <= set(allowed):
        raise TransitionError(f"{sorted(set(frm) - set(allowed))} -> {to} is not a transition")
    now = timezone.now()
    rows = Video.objects.filter(stage__in=frm)
    rows = rows.filter(pk__in=pk) if isinstance(pk, list) else rows.filter(pk=pk)
    if owner is not None:
        rows = rows.filter(lease_owner=owner)
    if match:
        rows = rows.filter(**match)
    values: dict[str, object] = {"stage": to, "status": STATUS[to], "updated_at": now, **fields}
    if to in LEASED and owner is not None:
        values["lease_until"] = now + timedelta(seconds=lease_seconds())
    elif to not in LEASED and "lease_owner" not in fields:
        values.update(lease_owner="", lease_until=None)
    moved = rows.update(**values)
    if moved:
        _announce(pk, to, {STATUS[s] for s in frm}, run=owner)
    return moved


def claim(video: Video, to: str, *, frm: tuple[str, ...], owner: str, **fields: object) -> bool:
    """Take the work on `video` for the run `owner`: move it from `frm` to the leased stage `to`.

    A video in a leased stage is taken only when its lease has expired (its holder died or hung), and only
    from the holder read in `video` (compare-and-set), so two runs reclaiming it at once cannot both win.
    """
    if to not in LEASED:
        raise TransitionError(f"{to} is not a leased stage")
    if not set(frm) <= set(ALLOWED[to]):
        raise TransitionError(f"{sorted(set(frm) - set(ALLOWED[to]))} -> {to} is not a transition")
    now = timezone.now()
    rows = Video.objects.filter(pk=video.pk, stage__in=frm, stage=video.stage, lease_owner=video.lease_owner)
    if video.stage in LEASED or video.lease_until is not None:
        rows = rows.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    claimed = bool(rows.update(stage=to, status=STATUS[to], lease_owner=owner,
                               lease_until=now + timedelta(seconds=lease_seconds()), updated_at=now, **fields))
    if claimed:
        _announce(video.pk, to, {STATUS[video.stage]}, run=owner)
    return claimed


def lease_take(video: Video, *, owner: str) -> bool:
    """Hold `video` in its current stage for one step (a poll): only if no live lease is held on it."""
    now = timezone.now()
    rows = Video.objects.filter(pk=video.pk, stage=video.stage, lease_owner=video.lease_owner).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    return bool(rows.update(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds())))


def lease_renew(pk: int, *, owner: str, **fields: object) -> bool:
    """Extend `owner`'s lease (and write `fields`, e.g. progress). False: the lease is lost, stop working."""
    now = timezone.now()
    renewed = bool(Video.objects.filter(pk=pk, lease_owner=owner, stage__in=LEASED + (Stage.SUBMITTED,)).update(
        lease_until=now + timedelta(seconds=lease_seconds()), updated_at=now, **fields))
    if renewed and "progress" in fields:
        live.changed_videos([pk])
    return renewed


def lease_release(pk: int, *, owner: str, **fields: object) -> bool:
    """Give the lease back (after one poll) and write `fields`; False if it was no longer ours.

    The owner's name stays, without a lease (the poller, services.poller, takes any due video without a live
    lease, whoever's name it bears; its own batch writes clear the name).
    """
    released = bool(Video.objects.filter(pk=pk, lease_owner=owner).update(
        lease_until=None, updated_at=timezone.now(), **fields))
    if released and "progress" in fields:
        live.changed_videos([pk])
    return released


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def leases_of_dead_processes_end() -> int:
    """End at once the leases held by processes of this host that no longer exist (a killed worker, a stopped
    `make run`), instead of waiting out VIDEO_LEASE_SECONDS: the sweep then hands their work on.

    A pid reused by another process only makes us wait for the lease to expire; never the reverse.
    """
    host = socket.gethostname()[:60]
    now = timezone.now()
    ended = 0
    mine = Video.objects.filter(lease_owner__startswith=f"{host}:")
    held = mine.filter(lease_until__gte=now)
    waiting = mine.filter(stage=Stage.SUBMITTED, lease_until__isnull=True)  # their next poll was scheduled here
    owners = set(held.values_list("lease_owner", flat=True)[:1000]) | set(
        waiting.values_list("lease_owner", flat=True)[:1000])
    for owner in owners:
        pid = owner[len(host) + 1:].split(":", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            ended += held.filter(lease_owner=owner).update(lease_until=now - timedelta(seconds=1))
            # The poll message died with its worker: due now (the sweep re-sends it at once).
            ended += waiting.filter(lease_owner=owner).update(lease_owner="", lease_until=now - timedelta(seconds=1))
    return ended


def lease_expired() -> Q:
    """Videos whose work was claimed by a run that is gone (or hung) past its lease."""
    return Q(lease_until__lt=timezone.now())
