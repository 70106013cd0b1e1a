"""Reads scoped to a user: these alone decide who sees what (another account's rows are simply absent)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Model, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import CreditEntry
from videos.exceptions import NotFound
from videos.models import GenerationSession, Video, VideoModel

M = TypeVar("M", bound=Model)
_MONEY = DecimalField(max_digits=14, decimal_places=2)
_SPENDING = (CreditEntry.Kind.CHARGE, CreditEntry.Kind.REFUND)


def _spent(column: str) -> Coalesce:
    """Credits spent on the row (charges less refunds), read from the ledger: the figure IS the ledger's."""
    net = (CreditEntry.objects.filter(kind__in=_SPENDING, **{column: OuterRef("public_id")})
           .order_by().values(column).annotate(net=Sum("delta")).values("net"))
    return Coalesce(-Subquery(net, output_field=_MONEY), Value(Decimal(0), output_field=_MONEY))


def _sessions_filtered(*, user: AbstractBaseUser, status: str | None, search: str | None,
                       ) -> QuerySet[GenerationSession]:
    qs = GenerationSession.objects.filter(owner=user)
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(prompt__icontains=search)
    return qs


def sessions_for_user(*, user: AbstractBaseUser, status: str | None = None, search: str | None = None,
                      ) -> QuerySet[GenerationSession]:
    qs = _sessions_filtered(user=user, status=status, search=search).select_related("model")
    return qs.annotate(
        total_videos=Count("videos", distinct=True),
        completed_videos=Count("videos", filter=Q(videos__status=Video.Status.COMPLETED), distinct=True),
        credits_total=_spent("session_id"),
    ).order_by("-created_at", "-id")  # GROUP BY drops Meta.ordering: pages must be stable


def session_get(*, user: AbstractBaseUser, public_id: str) -> GenerationSession:
    if "\x00" in public_id:  # no id holds one, and PostgreSQL refuses to compare with it
        raise NotFound("No such session.", field="session_id")
    session = sessions_for_user(user=user).filter(public_id=public_id).first()
    if session is None:
        raise NotFound("No such session.", field="session_id")
    return session


def session_videos(*, session: GenerationSession) -> QuerySet[Video]:
    return (session.videos.select_related("model", "session").annotate(credits_spent=_spent("video_id"))
            .order_by("sequence"))


# The poll path's reads (GET /videos/sessions/{id}), written out: compiling the equivalent querysets (a join,
# a ledger subquery, ordering) cost more CPU than everything else the poll does, and so did RawQuerySet's
# reading of the cursor's description. Portable SQL (PostgreSQL and SQLite); each value is converted as the
# ORM converts it (the backend's and the field's converters), and the columns not read are deferred.
_V, _S, _M, _E = (Video._meta.db_table, GenerationSession._meta.db_table, VideoModel._meta.db_table,
                  CreditEntry._meta.db_table)
_NET = "(SELECT SUM(e.delta) FROM {e} e WHERE e.kind IN ('charge', 'refund') AND e.{column} = {row}.public_id)"
_EXTRA = ("model_slug", "model_vendor", "credits_net")  # after the model's columns, in this order
_SESSION_COLUMNS = tuple(f.attname for f in GenerationSession._meta.concrete_fields)
# What a video object of the API shows and its queue estimate reads (videos.api.outputs.VideoOut.of, videos.health):
# the other columns (the lease, the vendor's job, the operator's error text) are left unread.
_PAGE_COLUMNS = tuple(f.attname for f in Video._meta.concrete_fields if f.attname in {  # in the model's order
    "id", "public_id", "session_id", "owner_id", "model_id", "sequence", "status", "stage", "progress", "provider",
    "simulated", "prompt", "params", "duration", "aspect_ratio", "resolution", "width", "height", "frame_rate",
    "file", "thumbnail", "last_frame", "file_size", "processing_time", "error", "error_code", "previous_attempts",
    "started_at", "completed_at", "created_at"})


def _select(alias: str, columns: tuple[str, ...], column: str) -> str:
    return (", ".join(f"{alias}.{c}" for c in columns) + ", m.model_id AS model_slug, m.provider AS model_vendor, "
            + _NET.format(e=_E, column=column, row=alias) + " AS credits_net")


_SESSION_SQL = (f"SELECT {_select('s', _SESSION_COLUMNS, 'session_id')} FROM {_S} s "
                f"JOIN {_M} m ON m.id = s.model_id WHERE s.id = %s")
_PAGE_SQL = (f"SELECT {_select('v', _PAGE_COLUMNS, 'video_id')} FROM {_V} v JOIN {_M} m ON m.id = v.model_id "
             f"WHERE v.session_id = %s ORDER BY v.sequence LIMIT %s OFFSET %s")


def _converters(model: type[Model], columns: tuple[str, ...]) -> list[tuple[int, list[Any]]]:
    """Per column, what the ORM would apply to a value read from this connection (e.g. JSON text to objects,
    SQLite's text to aware datetimes); remembered per model, columns and database vendor."""
    key = (model, columns, connection.vendor)
    if key not in _CONVERTERS:
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        found = []
        for i, name in enumerate(columns):
            col = by_attname[name].get_col(model._meta.db_table)
            convs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if convs:
                found.append((i, convs))
        _CONVERTERS[key] = found
    return _CONVERTERS[key]


_CONVERTERS: dict[tuple[Any, ...], list[tuple[int, list[Any]]]] = {}


def _read(model: type[M], columns: tuple[str, ...], sql: str, params: list[Any]) -> list[M]:
    """Instances of `model` with `columns` (in the model's field order) read, the rest deferred, and the
    _EXTRA annotations set."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    converters, n, out = _converters(model, columns), len(columns), []
    for row in rows:
        values = list(row[:n])
        for i, convs in converters:
            for conv in convs:
                values[i] = conv(values[i], None, connection)
        obj = model.from_db(connection.alias, columns, values)
        obj.model_slug, obj.model_vendor = row[n], row[n + 1]  # type: ignore[attr-defined]
        obj.credits_net = -Decimal(str(row[n + 2])) if row[n + 2] is not None else Decimal(0)  # type: ignore
        out.append(obj)
    return out


def session_counted(*, pk: int, total_videos: int, completed_videos: int) -> GenerationSession:
    """The session `pk` (its owner already checked by the caller's version read, videos.versions) with its
    credits from the ledger, its model's id and vendor, and the counts that read gave: no GROUP BY over its
    videos, no join of the model's row (`session.model` is not loaded: read model_slug and model_vendor)."""
    found = _read(GenerationSession, _SESSION_COLUMNS, _SESSION_SQL, [pk])
    if not found:  # deleted since
        raise NotFound("No such session.", field="session_id")
    session = found[0]
    session.credits_total = session.credits_net  # type: ignore[attr-defined]
    session.total_videos, session.completed_videos = total_videos, completed_videos  # type: ignore[attr-defined]
    return session


def session_page(*, session: GenerationSession, offset: int, limit: int) -> list[Video]:
    """One page of a session's videos for the poll path: each row names its model in two columns (no join of
    the model's or the session's row per video) and carries its credits from the ledger; `video.session` is
    `session`, not read again."""
    rows = _read(Video, _PAGE_COLUMNS, _PAGE_SQL, [session.pk, limit, offset])
    for video in rows:
        video.credits_spent = video.credits_net  # type: ignore[attr-defined]
        video._state.fields_cache["session"] = session
    return rows


def session_stats(*, user: AbstractBaseUser, status: str | None = None, search: str | None = None,
                  ) -> dict[str, object]:
    """Counts by status, videos and credits over the user's sessions that match the same filters as the list.

    Credits are the ledger's: charges less refunds of the matching sessions.
    """
    sessions = _sessions_filtered(user=user, status=status, search=search).order_by()
    counts = dict.fromkeys(GenerationSession.Status.values, 0)
    for row in sessions.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    ids = sessions.values("public_id")
    net = (CreditEntry.objects.filter(account__user=user, kind__in=_SPENDING, session_id__in=ids)
           .order_by().aggregate(total=Sum("delta"))["total"])
    return {
        "total_sessions": sum(counts.values()),
        "by_status": counts,
        "total_videos": Video.objects.filter(session__in=sessions.values("id")).count(),
        "total_credits_used": float(-(net or Decimal(0))),
    }


def videos_for_user(*, user: AbstractBaseUser, status: str | None = None, model: str | None = None,
                    search: str | None = None) -> QuerySet[Video]:
    qs = Video.objects.filter(owner=user).select_related("model", "session").annotate(
        credits_spent=_spent("video_id"))
    if status:
        qs = qs.filter(status=status)
    if model:
        qs = qs.filter(model__model_id=model)
    if search:
        qs = qs.filter(prompt__icontains=search)
    return qs.order_by("-created_at", "-id")


def video_get(*, user: AbstractBaseUser, public_id: str) -> Video:
    if "\x00" in public_id:
        raise NotFound("No such video.", field="video_id")
    video = videos_for_user(user=user).filter(public_id=public_id).first()
    if video is None:
        raise NotFound("No such video.", field="video_id")
    return video


def catalog(*, include_disabled: bool = False) -> QuerySet[VideoModel]:
    qs = VideoModel.objects.all()
    return qs if include_disabled else qs.filter(enabled=True)
