"""Control over one video: cancel it (refunded), retry a failed one, or make another with the same settings."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from billing import services as billing
from billing.exceptions import InsufficientCredits
from dashboard.http import HtmxHttpRequest
from videos import files, selectors, services
from videos.exceptions import InvalidInput, ModelUnavailable
from videos.files import CONTENT_TYPES
from videos.models import Video
from videos.schemas import GenerateIn
from videos.views.common import cards

CANCELLED = "Cancelled by you."


def _video(request: HtmxHttpRequest, video_id: str) -> Video:
    video = selectors.videos_for_user(user=request.user).filter(public_id=video_id).first()
    if video is None:
        raise Http404("No such video.")
    return video


def _stored_image(name: str) -> str:
    """A stored input image as a `data:` URI: the services vet it again, exactly like a new upload."""
    content_type = CONTENT_TYPES.get("." + name.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    with files.default_storage.open(name, "rb") as handle:
        return f"data:{content_type};base64,{base64.b64encode(handle.read()).decode()}"


def payload_of(video: Video, *, new_seed: bool = False) -> GenerateIn:
    """The request that made `video`, as a new single generation (its session's images included)."""
    params = video.params
    body: dict[str, Any] = {
        "model": video.model.model_id, "prompt": video.prompt, "duration": video.duration,
        "aspect_ratio": video.aspect_ratio, "resolution": video.resolution,
        # The size asked for (params), not the one probed from the result.
        "width": params.get("width"), "height": params.get("height"), "frame_rate": params.get("frame_rate"),
        "strategy": params.get("strategy"), **(params.get("options") or {}),
    }
    if not new_seed and params.get("seed") is not None:
        body["seed"] = params["seed"]
    for which in ("head_image", "tail_image"):
        if name := video.session.params.get(which):
            body[which] = _stored_image(name)
    return GenerateIn.model_validate(body)


def _again(request: HtmxHttpRequest, video: Video, *, new_seed: bool, verb: str) -> HttpResponse:
    """Start a new generation through the same entry point as Try and the API; go to the new video."""
    try:
        session = services.session_start(user=request.user, payload=payload_of(video, new_seed=new_seed))
    except InsufficientCredits as e:
        messages.error(request, f"Not enough credits: this needs {e.required:,.2f} and your balance is "
                                f"{e.available:,.2f}.")
        target = video.public_id
    except (InvalidInput, ModelUnavailable) as e:
        messages.error(request, f"Cannot {verb} this video: {e.message}")
        target = video.public_id
    else:
        new = selectors.session_videos(session=session).first()
        messages.success(request, f"{verb.capitalize()}: a new video is on its way (the old one is kept).")
        target = new.public_id if new else video.public_id
    url = redirect("videos:video-detail", target).url
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
def video_cancel(request: HtmxHttpRequest, video_id: str) -> HttpResponse:
    """Cancel a queued or running video; its charge is refunded (video_fail, idempotent). htmx: the card."""
    video = _video(request, video_id)
    if not video.is_final:
        services.video_fail(video.pk, error=CANCELLED, code="cancelled")
    video = _video(request, video_id)
    if request.htmx:
        context = {"card": cards(request, [video])[0]}
        if request.htmx.current_url_abs_path in (reverse("videos:try"), reverse("videos:try-alias")):
            context["balance"] = billing.credit_balance(user=request.user)  # Try shows it: refresh it too
        return render(request, "videos/_video_card.html#cancelled", context)
    if video.error_code == "cancelled":
        messages.success(request, f"Cancelled: {video.credits_used:,.2f} credits refunded.")
    return redirect("videos:video-detail", video.public_id)


@login_required
@require_POST
def video_retry(request: HtmxHttpRequest, video_id: str) -> HttpResponse:
    """Make a failed video again with exactly its settings (the same seed)."""
    video = _video(request, video_id)
    if video.status != Video.Status.FAILED:
        messages.info(request, "Only a failed video can be retried.")
        return redirect("videos:video-detail", video.public_id)
    return _again(request, video, new_seed=False, verb="retry")


@login_required
@require_POST
def video_again(request: HtmxHttpRequest, video_id: str) -> HttpResponse:
    """Another video with the same model, prompt, images and settings, and a new seed (a variation)."""
    return _again(request, _video(request, video_id), new_seed=True, verb="run again")
