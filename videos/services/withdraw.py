"""Work for a model taken off sale: a video that has not reached its vendor yet when its model is disabled (by an
operator, by repeated auth failures of its vendor, by a vendor shutting it down) is never sent there.

The check runs where a video would leave the queue: a dispatch (which reserves vendor slots) skips such videos and
withdraws them, and a start re-checks just before its claim (a start message already in the broker when the model
was disabled). A withdrawn video goes to its fallback (the request's `fallback_models`, else the operator's
default), charged anew like any failover; without one it fails with code `model_unavailable` and is refunded
once. A video the vendor already has (submitted) is left alone: it is polled to the end, since the vendor makes it
and may charge for it either way.

The check and the submit are not one atomic step: a model disabled while a start is between the two still gets
that one job, which then runs to its end like any submitted one. Either way, each video ends once: made, or
refunded.
"""

from __future__ import annotations

from collections.abc import Iterable

from videos.health import model_availability
from videos.models import Video, VideoModel
from videos.providers import LIVE, UNAVAILABLE, availability
from videos.services.results import WORDS, video_fail

Stage = Video.Stage
CODE = "model_unavailable"  # the code a create of the same model answers now (503)


def unstartable_reason(model: VideoModel, provider: str) -> str:
    """Why a video of `model`, to be made by `provider` (its vendor, or "local" when simulated), may not start
    now, for operators; "" when it may. A simulated video needs its model on sale; a vendor video needs it live."""
    state = model_availability(model)
    if state != UNAVAILABLE and (provider == "local" or state == LIVE):
        return ""
    if not model.enabled:
        return f"model {model.model_id} was disabled by the operator"
    if provider != "local" and availability(provider) != LIVE:
        return f"vendor {provider} has no credentials configured any more"
    if model.lifecycle == VideoModel.Lifecycle.SHUT_DOWN:
        return f"model {model.model_id} was shut down by its vendor"
    return f"vendor {model.provider} was disabled (its key is refused)"


def models_blocked(vendor: str, model_pks: Iterable[int]) -> dict[int, str]:
    """Of the models `model_pks` queued at `vendor`, those that may not start: {pk: reason}."""
    out = {}
    for model in VideoModel.objects.filter(pk__in=list(model_pks)):
        if why := unstartable_reason(model, vendor):
            out[model.pk] = why
    return out


def video_withdraw(video_pk: int, *, why: str, frm: tuple[str, ...]) -> bool:
    """Take a video that has not reached its vendor (stage in `frm`) off its model: fail it over to its next model,
    or fail and refund it once (code model_unavailable; the usual video.failed event). False: it had moved on.
    (video_fail tries the failover first, as for any failure.)"""
    return video_fail(video_pk, error=WORDS[CODE], code=CODE, detail=why, frm=frm)
