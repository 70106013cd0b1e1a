"""Reads scoped to a user: these alone decide who sees what (another account's rows are simply absent)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import CreditEntry
from videos.exceptions import NotFound
from videos.models import GenerationSession, Video, VideoModel

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


def session_counted(*, pk: int, total_videos: int, completed_videos: int) -> GenerationSession:
    """The session `pk` (its owner already checked by the caller's version read, videos.versions) with its
    credits from the ledger, and the counts that read gave: no GROUP BY over its videos."""
    session = (GenerationSession.objects.select_related("model").annotate(credits_total=_spent("session_id"))
               .filter(pk=pk).first())
    if session is None:  # deleted since
        raise NotFound("No such session.", field="session_id")
    session.total_videos, session.completed_videos = total_videos, completed_videos  # type: ignore[attr-defined]
    return session


def session_page(*, session: GenerationSession, offset: int, limit: int) -> list[Video]:
    """One page of a session's videos for the poll path: each row names its model in two columns (no join of
    the model's or the session's row per video) and carries its credits from the ledger; `video.session` is
    `session`, not read again."""
    rows = list(Video.objects.filter(session_id=session.pk).annotate(
        credits_spent=_spent("video_id"), model_slug=F("model__model_id"), model_vendor=F("model__provider"),
    ).order_by("sequence")[offset:offset + limit])
    for video in rows:
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
