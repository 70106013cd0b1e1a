"""Try: generate a video or start a session from the dashboard, and the video card/page that follows it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from billing import services as billing
from billing.exceptions import InsufficientCredits
from dashboard.http import HtmxHttpRequest
from videos import selectors, services
from videos.exceptions import InvalidInput, ModelUnavailable, NotFound
from videos.files import base_url
from videos.forms import TryForm
from videos.models import GenerationSession, Video, VideoModel
from videos.serializers import model_dict
from videos.views.code import snippets
from videos.views.common import cards
from videos.views.quote import quote_from

DEFAULT_MODEL = "luma-ray-2.0-flash-5s-t2v"  # quick, text only: a good first try
RECENT = 6
LAST_MODEL = "try_model"  # the Django session remembers the model of the last generation
MODES = {"single", "session"}


def _selected(models: list[VideoModel], model_id: str | None) -> VideoModel | None:
    by_id = {m.model_id: m for m in models}
    return by_id.get(model_id or "") or by_id.get(DEFAULT_MODEL) or (models[0] if models else None)


def _context(request: HtmxHttpRequest, form: TryForm, *, source: Any = None, **extra: Any) -> dict[str, Any]:
    selected = form.selected
    return {
        "form": form,
        "model_info": model_dict(selected) if selected else None,
        "balance": billing.credit_balance(user=request.user),
        "quote": quote_from(request, selected, source if source is not None else {}),
        **extra,
    }


def _initial(request: HtmxHttpRequest, selected: VideoModel | None) -> dict[str, Any]:
    """A fresh form's values from the query: `?mode=session` (New session), `?prompt=` (edit and run again)."""
    initial: dict[str, Any] = {"model": selected.model_id if selected else None}
    if request.GET.get("mode") in MODES:
        initial["mode"] = request.GET["mode"]
    for name in ("prompt", "max_videos", "interval_seconds", "duration_minutes", "budget_credits", "duration",
                 "aspect_ratio", "resolution", "seed"):
        if request.GET.get(name):
            initial[name] = request.GET[name][:5000]
    return initial


def _submit(request: HtmxHttpRequest, form: TryForm) -> tuple[GenerationSession | None, int, str]:
    """Validate and create through the services the API uses. Returns (session, status, credits error)."""
    if not form.is_valid():
        return None, 422, ""
    try:
        payload = form.schema()
    except ValueError:
        return None, 422, ""
    try:
        session = services.session_start(user=request.user, payload=payload)
    except InvalidInput as e:
        form.add_error_for(e.field, e.message)
        return None, 422, ""
    except ModelUnavailable as e:
        form.add_error_for("model", e.message)
        return None, 422, ""
    except InsufficientCredits as e:
        return None, 402, f"Not enough credits: this needs {e.required:,.2f} and your balance is {e.available:,.2f}."
    return session, 201, ""


def _kept(form: TryForm) -> dict[str, Any]:
    """What the next form keeps of a successful submission: everything but the images."""
    data = form.cleaned_data
    keep = ("model", "prompt", "mode", "duration", "aspect_ratio", "resolution", "max_videos", "interval_seconds",
            "duration_minutes", "budget_credits")
    return {name: data.get(name) for name in keep if data.get(name) not in (None, "")}


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def try_page(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the form (to htmx targeting #model-fields: the inputs of `?model=`). POST: generate.

    A successful htmx POST answers with a fresh form plus the new video's card, swapped out-of-band into
    the results; errors re-render the form with each message next to its input (402 / 422).
    """
    models = list(selectors.catalog())
    source = request.POST if request.method == "POST" else request.GET
    selected = _selected(models, source.get("model") or request.session.get(LAST_MODEL))
    recent = cards(request, selectors.videos_for_user(user=request.user)[:RECENT])
    if request.method == "GET":
        initial = _initial(request, selected)
        form = TryForm(models=models, selected=selected, initial=initial)
        template = "videos/try.html"
        oob_quote = False
        if request.htmx and request.htmx.target == "model-fields":
            template += "#model-fields"
            oob_quote = True  # the price of the newly chosen model, outside #model-fields
        context = _context(request, form, source=initial, cards=recent, oob_quote=oob_quote)
        return render(request, template, context)

    form = TryForm(request.POST, request.FILES, models=models, selected=selected)
    session, status, credits_error = _submit(request, form)
    if session is None:
        template = "videos/try.html#try-form" if request.htmx else "videos/try.html"
        context = _context(request, form, source=request.POST, cards=recent, credits_error=credits_error)
        return render(request, template, context, status=status)
    request.session[LAST_MODEL] = session.model.model_id
    video = selectors.session_videos(session=session).first()
    if not request.htmx:
        messages.success(request, "Your video is on its way." if session.kind == GenerationSession.Kind.SINGLE
                         else "Your session has started.")
        if session.kind == GenerationSession.Kind.TIMED or video is None:
            return redirect("videos:session-detail", session.public_id)
        return redirect("videos:video-detail", video.public_id)
    fresh = TryForm(models=models, selected=selected, initial=_kept(form))
    context = _context(request, fresh, source=request.POST, new_cards=cards(request, [video] if video else []),
                       new_session=session, new_video=video)
    return render(request, "videos/try.html#try-success", context, status=201)


def _try_url(video: Video) -> str:
    """Try, filled in with this video's settings (images are not carried: they are uploads)."""
    query = {"model": video.model.model_id, "prompt": video.prompt, "duration": video.duration,
             "aspect_ratio": video.aspect_ratio, "resolution": video.resolution}
    if video.session.kind == GenerationSession.Kind.TIMED:
        query.update(mode="session", max_videos=video.session.max_videos,
                     interval_seconds=video.session.interval_seconds,
                     duration_minutes=video.session.duration_minutes)
        if video.session.budget_credits is not None:
            query["budget_credits"] = video.session.budget_credits
    return reverse("videos:try") + "?" + urlencode(query)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def video_detail(request: HtmxHttpRequest, video_id: str) -> HttpResponse:
    """The video's page (player, details); to htmx, its card, which polls itself until the video is final."""
    try:
        video = selectors.video_get(user=request.user, public_id=video_id)
    except NotFound:
        raise Http404("No such video.") from None
    card = cards(request, [video], remote=True)[0]  # one video: worth asking any storage whether its file is there
    if request.htmx:
        return render(request, "videos/_video_card.html#video-card", {"card": card})
    context = {"card": card, "video": video, "info": card["info"],
               "snippets": snippets(video, base=base_url(request)), "try_url": _try_url(video)}
    return render(request, "videos/video_detail.html", context)
