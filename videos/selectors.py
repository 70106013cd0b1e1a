"""Reads scoped to a user: these alone decide who sees what (another account's rows are simply absent)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet, Sum

from videos.exceptions import NotFound
from videos.models import GenerationSession, Video, VideoModel


def sessions_for_user(*, user: AbstractBaseUser, status: str | None = None, search: str | None = None,
                      ) -> QuerySet[GenerationSession]:
    qs = GenerationSession.objects.filter(owner=user).select_related("model")
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(prompt__icontains=search)
    return qs.annotate(
        total_videos=Count("videos", distinct=True),
        completed_videos=Count("videos", filter=Q(videos__status=Video.Status.COMPLETED), distinct=True),
        credits_total=Sum("videos__credits_used", filter=~Q(videos__status=Video.Status.FAILED)),
    ).order_by("-created_at", "-id")  # GROUP BY drops Meta.ordering: pages must be stable


def session_get(*, user: AbstractBaseUser, public_id: str) -> GenerationSession:
    session = sessions_for_user(user=user).filter(public_id=public_id).first()
    if session is None:
        raise NotFound("No such session.", field="session_id")
    return session


def session_videos(*, session: GenerationSession) -> QuerySet[Video]:
    return session.videos.select_related("model", "session").order_by("sequence")


def session_stats(*, user: AbstractBaseUser) -> dict[str, object]:
    """Counts by status, total videos and credits over all of the user's sessions."""
    counts = dict.fromkeys(GenerationSession.Status.values, 0)
    for row in GenerationSession.objects.filter(owner=user).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    videos = Video.objects.filter(owner=user)
    spent = videos.exclude(status=Video.Status.FAILED).aggregate(total=Sum("credits_used"))["total"]
    return {
        "total_sessions": sum(counts.values()),
        "by_status": counts,
        "total_videos": videos.count(),
        "total_credits_used": float(spent or Decimal("0")),
    }


def videos_for_user(*, user: AbstractBaseUser, status: str | None = None, model: str | None = None,
                    search: str | None = None) -> QuerySet[Video]:
    qs = Video.objects.filter(owner=user).select_related("model", "session")
    if status:
        qs = qs.filter(status=status)
    if model:
        qs = qs.filter(model__model_id=model)
    if search:
        qs = qs.filter(prompt__icontains=search)
    return qs.order_by("-created_at", "-id")


def video_get(*, user: AbstractBaseUser, public_id: str) -> Video:
    video = videos_for_user(user=user).filter(public_id=public_id).first()
    if video is None:
        raise NotFound("No such video.", field="video_id")
    return video


def catalog(*, include_disabled: bool = False) -> QuerySet[VideoModel]:
    qs = VideoModel.objects.all()
    return qs if include_disabled else qs.filter(enabled=True)
