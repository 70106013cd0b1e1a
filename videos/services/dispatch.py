"""Dispatch and slots: start a video (render it here, or claim a vendor slot and submit), and hand free
vendor slots to the oldest queued videos. Every start is a claim in the database: a message delivered
twice, or re-sent by the sweep, starts the work once."""

from __future__ import annotations

import zlib

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from videos import lifecycle
from videos.models import Video
from videos.providers import get_provider
from videos.services.render import render_claim, render_local
from videos.services.vendor import submit_reclaim, vendor_submit
from videos.services.withdraw import models_blocked, unstartable_reason, video_withdraw

Stage = Video.Stage
IN_SLOT = (Stage.DISPATCHED, Stage.SUBMITTING, Stage.SUBMITTED, Stage.STORING)  # holding a vendor slot


def _vendor_lock(vendor: str) -> None:
    """Serialise slot accounting per vendor until the transaction ends. SQLite's IMMEDIATE transactions
    already serialise every writer; PostgreSQL takes a transaction-scoped advisory lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"vendor-slots:{vendor}".encode())])


def _free_slots(vendor: str) -> int:
    cap = settings.PROVIDER_SETTINGS.get(vendor, {}).get("max_concurrent", 5)
    return cap - Video.objects.filter(provider=vendor, stage__in=IN_SLOT).count()


def vendor_dispatch(vendor: str) -> list[int]:
    """Reserve free slots at `vendor` for its oldest queued videos; returns their pks, for the caller to start.

    Reserving (stage dispatched) under the vendor lock means two dispatches that run at once hand out each
    slot once, and a start task sent twice submits once. Queued videos whose model is off sale now (disabled,
    its vendor's key refused, shut down) get no slot: they are withdrawn (services.withdraw), after the commit.
    """
    pks: list[int] = []
    with transaction.atomic():
        _vendor_lock(vendor)
        queued = Video.objects.filter(provider=vendor, stage=Stage.QUEUED).order_by("created_at", "id")
        blocked = models_blocked(vendor, queued.order_by().values_list("model_id", flat=True).distinct())
        if blocked:
            queued = queued.exclude(model_id__in=blocked)
        free = _free_slots(vendor)
        if free > 0:
            pks = list(queued.values_list("pk", flat=True)[:free])
        if pks:
            lifecycle.move(pks, Stage.DISPATCHED, frm=(Stage.QUEUED,), started_at=timezone.now())
    if blocked:
        withdrawn = Video.objects.filter(provider=vendor, stage=Stage.QUEUED, model_id__in=blocked)
        for pk, model_pk in withdrawn.order_by("created_at", "id").values_list("pk", "model_id")[:500]:
            video_withdraw(pk, why=blocked[model_pk], frm=(Stage.QUEUED,))
    return pks


def _load(video_pk: int) -> Video | None:
    return Video.objects.select_related("session", "model", "owner").filter(pk=video_pk).first()


def video_start(video_pk: int) -> float | None:
    """Start making the video. Returns seconds until the first poll for vendor jobs, else None.

    At the vendor's concurrency cap the video stays queued and nothing is retried: `vendor_dispatch` starts
    it when a slot frees. Raises Retry when the vendor is busy (429/5xx, timeout). A video not started yet
    whose model is off sale now is withdrawn instead (failed over, or failed and refunded: services.withdraw).
    """
    video = _load(video_pk)
    if video is None or video.stage in lifecycle.FINAL:
        return None
    if video.stage in (Stage.QUEUED, Stage.DISPATCHED) and (why := unstartable_reason(video.model, video.provider)):
        video_withdraw(video.pk, why=why, frm=(video.stage,))  # never sent: its model is off sale now
        return None
    owner = lifecycle.new_owner()
    if get_provider(video.provider).synchronous:
        if render_claim(video, owner):  # a run that died mid-render is redone: local work is free
            render_local(video, owner)
        return None
    if video.stage == Stage.SUBMITTING:
        return submit_reclaim(video, owner)  # only once the dead run's lease has expired
    if video.stage not in (Stage.QUEUED, Stage.DISPATCHED):
        return None  # submitted: its poll chain (or the sweep) takes it from here
    with transaction.atomic():
        _vendor_lock(video.provider)  # count-and-claim as one step: two workers can't both take the last slot
        claimed = video.stage == Stage.DISPATCHED and lifecycle.claim(
            video, Stage.SUBMITTING, frm=(Stage.DISPATCHED,), owner=owner)
        if not claimed and video.stage == Stage.QUEUED:
            if _free_slots(video.provider) <= 0:
                return None  # stays queued until dispatch hands it a slot
            claimed = lifecycle.claim(video, Stage.SUBMITTING, frm=(Stage.QUEUED,), owner=owner,
                                      started_at=timezone.now())
        if not claimed:
            return None  # another run has it
    return vendor_submit(video, owner)
