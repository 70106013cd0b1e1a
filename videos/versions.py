"""Versions of what the API's polls show, read cheaply before anything is serialized (dashboard.conditional).

A version is a tuple that changes whenever the answer it stands for would change for a client:
- a video row's `updated_at` moves with every write of its stage, status, progress, file, error and attempts
  (videos.lifecycle writes it on every move, lease renewal with progress, and release);
- a session row's `updated_at` moves with its status, next run, error and end (services.sessions);
- the credit account's `updated_at` moves with every ledger row (billing.services._post, under a row lock),
  so it stands for the balance and for every `credits_used` computed from the ledger;
- counts (videos of the session, completed ones) and a queued video's place in its vendor's queue are read as
  such. Each row's own stamp is hashed, not only the newest: two writers may commit out of stamp order.

`eta_seconds` is an estimate that counts down between two changes: it is not part of a version (the tags are
weak). Each version also gives the `Retry-After` hint: seconds until the next change can be expected.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import CreditAccount
from videos.exceptions import NotFound
from videos.models import GenerationSession, Video

Stage = Video.Stage
FINAL_STAGES = (Stage.DONE, Stage.FAILED, Stage.CANCELLED)
# Seconds a client should wait before polling again, by stage (a vendor job: until its next poll).
RETRY_AFTER: dict[str, int] = {Stage.QUEUED: 5, Stage.DISPATCHED: 2, Stage.SUBMITTING: 2, Stage.RENDERING: 2,
                               Stage.STORING: 2, Stage.SUBMITTED: 5}
RETRY_AFTER_SESSION = 5  # a running session with nothing in flight on the page: its next video is coming
RETRY_AFTER_MAX = 60

_V, _S, _A = Video._meta.db_table, GenerationSession._meta.db_table, CreditAccount._meta.db_table
# A queued video's place: the queued videos of its vendor ahead of it (as videos.health.videos_queue counts).
_AHEAD = (f"CASE WHEN v.stage = 'queued' THEN (SELECT COUNT(*) FROM {_V} q WHERE q.stage = 'queued' "
          f"AND q.provider = v.provider AND (q.created_at < v.created_at OR (q.created_at = v.created_at "
          f"AND q.id < v.id))) END")
_FINAL_SQL = "(" + ", ".join(f"'{stage}'" for stage in FINAL_STAGES) + ")"
_TEXT = "CAST({} AS TEXT)"  # stamps only hashed: read as text, not parsed into datetimes (50 per page)
_SESSION_SQL = (
    f"SELECT s.id, s.status, {_TEXT.format('s.updated_at')}, s.next_run_at, {_TEXT.format('a.updated_at')}, "
    f"a.balance, v.id, {_TEXT.format('v.updated_at')}, v.stage, "
    f"v.next_poll_at, COUNT(v.id) OVER (), "
    f"SUM(CASE WHEN v.status = 'completed' THEN 1 ELSE 0 END) OVER (), "
    f"SUM(CASE WHEN v.stage NOT IN {_FINAL_SQL} THEN 1 ELSE 0 END) OVER () "
    f"FROM {_S} s LEFT JOIN {_A} a ON a.user_id = s.owner_id LEFT JOIN {_V} v ON v.session_id = s.id "
    f"WHERE s.public_id = %s AND s.owner_id = %s ORDER BY v.sequence LIMIT %s OFFSET %s")
_SESSION_ONLY_SQL = (  # a page past the last video: the session and its counts alone
    f"SELECT s.id, s.status, {_TEXT.format('s.updated_at')}, s.next_run_at, {_TEXT.format('a.updated_at')}, "
    f"a.balance, (SELECT COUNT(*) FROM {_V} v WHERE v.session_id = s.id), "
    f"(SELECT COUNT(*) FROM {_V} v WHERE v.session_id = s.id AND v.status = 'completed'), "
    f"(SELECT COUNT(*) FROM {_V} v WHERE v.session_id = s.id AND v.stage NOT IN {_FINAL_SQL}) "
    f"FROM {_S} s LEFT JOIN {_A} a ON a.user_id = s.owner_id WHERE s.public_id = %s AND s.owner_id = %s")
_VIDEO_SQL = (
    f"SELECT v.id, {_TEXT.format('v.updated_at')}, v.stage, v.next_poll_at, {_AHEAD}, "
    f"{_TEXT.format('a.updated_at')}, a.balance "
    f"FROM {_V} v LEFT JOIN {_A} a ON a.user_id = v.owner_id WHERE v.public_id = %s AND v.owner_id = %s")


def _when(value: Any) -> datetime | None:
    """A timestamp from a raw cursor: aware on PostgreSQL, naive UTC (or text) on SQLite."""
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _wait(stage: str, next_poll_at: Any, now: datetime) -> int | None:
    """Seconds until a video in `stage` may change; None once it is final."""
    if stage in FINAL_STAGES:
        return None
    if stage == Stage.SUBMITTED and (due := _when(next_poll_at)) is not None:
        return max(1, min(RETRY_AFTER_MAX, math.ceil((due - now).total_seconds())))
    return RETRY_AFTER.get(stage, RETRY_AFTER_SESSION)


def _session_wait(status: str, next_run_at: Any, videos: list[int | None], now: datetime) -> int | None:
    waits = [w for w in videos if w is not None]
    if status in GenerationSession.FINAL:
        return min(waits) if waits else None
    if not waits and (due := _when(next_run_at)) is not None:
        waits.append(max(1, math.ceil((due - now).total_seconds())))
    return min(RETRY_AFTER_MAX, *waits) if waits else RETRY_AFTER_SESSION


def _ahead(queued: list[int]) -> dict[int, int | None]:
    """The queued videos ahead of each of these queued ones: a second query, only when the page has any (the
    subquery inside the version's read cost PostgreSQL more to plan than the rest of it, on every poll)."""
    if not queued:
        return {}
    marks = ", ".join(["%s"] * len(queued))
    return dict(_rows(f"SELECT v.id, {_AHEAD} FROM {_V} v WHERE v.id IN ({marks})", queued))  # type: ignore


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class SessionVersion:
    """The version of one page of a session (GET /videos/sessions/{id}), with what the page read needs:
    the session's total and completed counts, so the 200 path reads no COUNT of its own."""

    def __init__(self, *, user_id: int, public_id: str, page: int, page_size: int) -> None:
        if "\x00" in public_id:
            raise NotFound("No such session.", field="session_id")
        now = timezone.now()
        offset = (page - 1) * page_size
        rows = _rows(_SESSION_SQL, [public_id, user_id, page_size, offset])
        self.ahead: dict[int, int | None] = {}  # queued videos of the page: how many are ahead of each
        if rows and (rows[0][6] is not None or offset == 0):
            first = rows[0]
            self.total, self.completed, active = int(first[10] or 0), int(first[11] or 0), int(first[12] or 0)
            live = [r for r in rows if r[6] is not None]
            waits = [_wait(r[8], r[9], now) for r in live]
            self.ahead = _ahead([r[6] for r in live if r[8] == Stage.QUEUED])
            videos = [(r[6], r[7], self.ahead.get(r[6])) for r in live]
        else:  # no row: no such session, or a page past the last video
            rows = _rows(_SESSION_ONLY_SQL, [public_id, user_id])
            if not rows:
                raise NotFound("No such session.", field="session_id")
            first = rows[0]
            self.total, self.completed, active = int(first[6] or 0), int(first[7] or 0), int(first[8] or 0)
            videos, waits = [], []
        self.session_pk, status = first[0], first[1]
        self.balance = Decimal(first[5] or 0)
        self.parts = (first[0], status, first[2], first[3], first[4], self.total, self.completed, *videos)
        self.retry_after = _session_wait(status, first[3], waits, now)
        # Nothing of the session will move again (the session and all its videos, not only this page's, are
        # final): the answer may be replayed from the poll cache (dashboard.pollcache).
        self.settled = status in GenerationSession.FINAL and active == 0


class VideoVersion:
    """The version of one video (GET /videos/{id}, GET /v1/videos/{id})."""

    def __init__(self, *, user_id: int, public_id: str) -> None:
        if "\x00" in public_id:
            raise NotFound("No such video.", field="video_id")
        rows = _rows(_VIDEO_SQL, [public_id, user_id])
        if not rows:
            raise NotFound("No such video.", field="video_id")
        pk, updated_at, stage, next_poll_at, ahead, account, balance = rows[0]
        self.video_pk, self.ahead, self.balance = pk, {pk: ahead}, Decimal(balance or 0)
        self.parts = (pk, updated_at, ahead, account)
        self.retry_after = _wait(stage, next_poll_at, timezone.now())
        self.settled = stage in FINAL_STAGES  # replayable (dashboard.pollcache)


def account_stamp(*, user_id: int) -> Any:
    """Moves with every ledger row of the user (balance, charges, refunds)."""
    return CreditAccount.objects.filter(user_id=user_id).values_list("updated_at", flat=True).first()


def queued_ahead(*, user_id: int) -> list[tuple[Any, ...]]:
    """Each queued video of the user with the queued videos ahead of it (its queue position moves with them)."""
    return _rows(f"SELECT v.id, {_AHEAD} FROM {_V} v WHERE v.owner_id = %s AND v.stage = 'queued' ORDER BY v.id",
                 [user_id])


def _stamps(table: str, user_id: int) -> tuple[Any, ...]:
    """(count, a hash of every row's id and stamp) of the user's rows of `table`: moves with any row created,
    deleted or written. Hashed by the database on PostgreSQL; read and hashed here elsewhere (SQLite)."""
    if connection.vendor == "postgresql":
        sql = (f"SELECT COUNT(*), md5(string_agg(t.id::text || ':' || t.updated_at::text, ',' ORDER BY t.id)) "
               f"FROM {table} t WHERE t.owner_id = %s")
        return tuple(_rows(sql, [user_id])[0])
    rows = _rows(f"SELECT t.id, t.updated_at FROM {table} t WHERE t.owner_id = %s ORDER BY t.id", [user_id])
    return len(rows), hash_of(rows)


def videos_stamp(*, user_id: int) -> tuple[Any, ...]:
    return _stamps(_V, user_id)


def sessions_stamp(*, user_id: int) -> tuple[Any, ...]:
    return _stamps(_S, user_id)


def catalog_stamp() -> tuple[Any, ...]:
    """The catalog as the model list shows it (it has no stamp of its own: a hash of its rows' prices and
    switches), plus the vendors' health snapshot (cached a few seconds)."""
    from videos.health import vendors_health
    from videos.models import VideoModel

    rows = VideoModel.objects.order_by("pk").values_list(
        "pk", "model_id", "display_name", "credits", "enabled", "lifecycle", "lifecycle_note", "mapping_note",
        "duration", "durations", "resolution", "resolutions", "aspect_ratios", "params", "head_image",
        "tail_image", "vendor_model", "provider", "type")
    health = sorted((v, tuple(sorted(h.__dict__.items()))) for v, h in vendors_health().items())
    return hash_of(rows), hash_of(health)


def hash_of(values: Any) -> str:
    return hashlib.blake2b(repr(list(values)).encode(), digest_size=12).hexdigest()
