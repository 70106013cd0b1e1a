"""Request normalisation: turn a GenerateIn into a validated, model-checked request before any charge.

Everything a client can get wrong is found here and raised as InvalidInput naming the field, so the
service that writes rows only ever sees a request that can be made.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from videos.exceptions import InvalidInput, ModelUnavailable, UnsupportedValue
from videos.health import model_availability
from videos.images import AcceptedImage, ImageError, image_accept, image_pair_check
from videos.models import VideoModel
from videos.providers import UNAVAILABLE, availability, get_provider
from videos.providers.base import InputImage, InvalidJob, Job
from videos.providers.render import dimensions_for
from videos.schemas import PROVIDER_PARAMS, GenerateIn


@dataclass
class VideoRequest:
    """A request that passed every check: what a session stores and every one of its videos is made from."""

    model: VideoModel
    prompt: str
    duration: int
    aspect_ratio: str
    resolution: str
    width: int
    height: int
    frame_rate: int
    seed: int
    strategy: str | None
    options: dict[str, Any] = field(default_factory=dict)
    head_image: AcceptedImage | None = None
    tail_image: AcceptedImage | None = None
    fallback_models: list[str] = field(default_factory=list)  # checked like `model`; failover order

    def params(self) -> dict[str, Any]:
        """The JSON-serialisable part, stored on the session and its videos."""
        params: dict[str, Any] = {
            "duration": self.duration, "aspect_ratio": self.aspect_ratio, "resolution": self.resolution,
            "width": self.width, "height": self.height, "frame_rate": self.frame_rate, "seed": self.seed,
            "strategy": self.strategy, "options": self.options,
        }
        if self.fallback_models:
            params["fallback_models"] = list(self.fallback_models)
        return params


def model_get(model_id: str) -> VideoModel:
    model = VideoModel.objects.filter(model_id=model_id.strip()).first()
    if model is None:
        raise InvalidInput(f"Unknown model '{model_id[:80]}'. GET /api/v3/media-pricing/models lists them.",
                           field="model", code="unknown_model")
    if not model.enabled:
        raise ModelUnavailable(f"Model '{model.model_id}' is disabled by the operator.", field="model")
    if model_availability(model) == UNAVAILABLE:  # nothing is charged or written past this point
        raise ModelUnavailable(_unavailable_reason(model), field="model")
    return model


def _unavailable_reason(model: VideoModel) -> str:
    """Our words only: a vendor's own auth message never reaches users (operators see it in the admin)."""
    if availability(model.provider) == UNAVAILABLE:
        return f"Model '{model.model_id}' is unavailable: its provider is not configured."
    if model.lifecycle == VideoModel.Lifecycle.SHUT_DOWN:
        return f"Model '{model.model_id}' is unavailable: its vendor has shut it down. Nothing was charged."
    return (f"Model '{model.model_id}' is temporarily unavailable: its video service is not accepting this "
            "server's requests; the operators have been told. Nothing was charged.")


_FIXED_DURATION = re.compile(r"-(\d+)s(?:-|$)")


def model_durations(model: VideoModel) -> list[int]:
    """The lengths a model makes. An id that names one (`…-6s-…`) makes only that one: the id is a promise."""
    if (fixed := _FIXED_DURATION.search(model.model_id)) and int(fixed.group(1)) in model.durations:
        return [int(fixed.group(1))]
    return list(model.durations)


def _pick(value: str | None, allowed: list[str], default: str, *, name: str, model: VideoModel) -> str:
    if value is None:
        return default
    normalised = value.strip().lower()
    if normalised not in allowed:
        raise InvalidInput(f"{name} '{value}' is not offered by {model.model_id}; choose one of {', '.join(allowed)}.",
                           field=name)
    return normalised


def _size(data: GenerateIn, resolution: str, aspect_ratio: str) -> tuple[int, int]:
    if (data.width is None) != (data.height is None):
        raise InvalidInput("width and height go together: give both or neither.",
                           field="height" if data.height is None else "width")
    if data.width is None:
        short = 2160 if resolution == "4k" else int(resolution.rstrip("p"))
        return dimensions_for(short, aspect_ratio)
    if data.width % 2 or data.height % 2:
        raise InvalidInput("width and height must be even numbers (H.264 4:2:0).", field="width")
    if data.width * data.height > 3840 * 2160:
        raise InvalidInput("width × height is larger than 4K.", field="width")
    return data.width, data.height


def _image_rules(data: GenerateIn, model: VideoModel) -> None:
    for name, rule in (("head_image", model.head_image), ("tail_image", model.tail_image)):
        given = getattr(data, name) is not None
        if rule == VideoModel.Input.REQUIRED and not given:
            kind = "a start image" if name == "head_image" else "an end image (keyframe-to-video)"
            raise InvalidInput(f"{model.model_id} needs {kind}: set {name}.", field=name)
        if rule == VideoModel.Input.NONE and given:
            raise InvalidInput(f"{model.model_id} does not take {name}.", field=name)
    if data.tail_image is not None and data.head_image is None:
        raise InvalidInput("tail_image needs a head_image (the start frame).", field="head_image")


def request_validate(data: GenerateIn, *, fetch_images: bool = True) -> VideoRequest:
    """Check `data` against its model; fetch and vet images. Raises InvalidInput / ModelUnavailable."""
    model = model_get(data.model)
    _image_rules(data, model)
    duration = data.duration if data.duration is not None else model.duration
    durations = model_durations(model)
    if duration not in durations:
        if len(durations) == 1 and len(model.durations) > 1:  # the id fixes the length the vendor lets vary
            raise UnsupportedValue(f"{model.model_id} makes {durations[0]}s videos (its id says so), not "
                                   f"{duration}s.", field="duration", code="duration_fixed")
        raise InvalidInput(f"duration {duration}s is not offered by {model.model_id}; choose one of "
                           f"{', '.join(map(str, durations))} seconds.", field="duration")
    aspect_ratio = _pick(data.aspect_ratio, model.aspect_ratios, model.default_aspect_ratio,
                         name="aspect_ratio", model=model)
    resolution = _pick(data.resolution, model.resolutions, model.resolution, name="resolution", model=model)
    width, height = _size(data, resolution, aspect_ratio)
    options = {}
    for name in PROVIDER_PARAMS:
        value = getattr(data, name)
        if value is None:
            continue
        if name not in model.params:
            raise InvalidInput(f"{name} is not supported by {model.model_id}.", field=name)
        options[name] = value
    request = VideoRequest(
        model=model, prompt=data.prompt, duration=duration, aspect_ratio=aspect_ratio, resolution=resolution,
        width=width, height=height, frame_rate=data.frame_rate or 24,
        seed=data.seed if data.seed is not None else random.randint(0, 2_147_483_647),  # noqa: S311
        strategy=data.strategy, options=options,
    )
    if fetch_images:
        request.head_image = _accept(data.head_image, "head_image")
        request.tail_image = _accept(data.tail_image, "tail_image")
        if request.head_image and request.tail_image:
            _image_error(lambda: image_pair_check(request.head_image, request.tail_image, field="tail_image"))
    _vendor_check(request)
    request.fallback_models = _fallbacks_check(data, request)
    return request


def _fallbacks_check(data: GenerateIn, request: VideoRequest) -> list[str]:
    """Each fallback must take this very request (same length, shape, size, images and options) through the same
    checks as `model`: a video fails over without asking the client again. 422 naming `fallback_models`."""
    chosen: list[str] = []
    for model_id in data.fallback_models or []:
        if model_id == request.model.model_id or model_id in chosen:
            raise UnsupportedValue(f"fallback_models names '{model_id[:80]}' twice (or the request's own model).",
                                   field="fallback_models", code="invalid_fallback")
        same = data.model_copy(update={"model": model_id, "fallback_models": None, "duration": request.duration,
                                       "aspect_ratio": request.aspect_ratio, "resolution": request.resolution,
                                       "seed": request.seed})
        try:
            request_validate(same, fetch_images=False)
        except (InvalidInput, ModelUnavailable) as e:
            raise UnsupportedValue(f"fallback_models: '{model_id[:80]}' cannot take this request: {e.message}",
                                   field="fallback_models", code="invalid_fallback") from None
        chosen.append(model_id)
    return chosen


def model_fits(model: VideoModel, params: dict[str, Any], *, head: bool, tail: bool) -> str:
    """Why `model` cannot make a video stored with `params` (and a head / tail image), or "" if it can.
    The intake rules, for a failover chosen after the request (an operator's default fallback)."""
    if not model.enabled or model_availability(model) == UNAVAILABLE:
        return "disabled or unavailable"
    for name, rule, given in (("head_image", model.head_image, head), ("tail_image", model.tail_image, tail)):
        if (rule == VideoModel.Input.REQUIRED and not given) or (rule == VideoModel.Input.NONE and given):
            return f"{name} does not fit"
    if params.get("duration") not in model_durations(model):
        return "duration not offered"
    if params.get("aspect_ratio") not in model.aspect_ratios or params.get("resolution") not in model.resolutions:
        return "aspect ratio or resolution not offered"
    if any(name not in model.params for name in params.get("options") or {}):
        return "an option is not supported"
    return ""


def _image_error(fn: Any) -> Any:
    try:
        return fn()
    except ImageError as e:
        raise InvalidInput(e.message, field=e.field, code=e.code) from None


def _accept(value: str | None, name: str) -> AcceptedImage | None:
    if value is None:
        return None
    return _image_error(lambda: image_accept(value, field=name))


def job_for(request: VideoRequest, *, video_id: str = "", head_url: str = "", tail_url: str = "") -> Job:
    def as_input(image: AcceptedImage | None, url: str) -> InputImage | None:
        if image is None:
            return None
        return InputImage(data=image.data, content_type=image.content_type, width=image.width,
                          height=image.height, url=url)

    return Job(
        video_id=video_id, prompt=request.prompt, model_id=request.model.model_id,
        vendor_model=request.model.vendor_model, type=request.model.type, duration=request.duration,
        resolution=request.resolution, aspect_ratio=request.aspect_ratio, width=request.width,
        height=request.height, frame_rate=request.frame_rate, seed=request.seed, strategy=request.strategy,
        options=dict(request.options), head_image=as_input(request.head_image, head_url),
        tail_image=as_input(request.tail_image, tail_url),
    )


def _vendor_check(request: VideoRequest) -> None:
    """Ask the vendor adapter (and the renderer) whether they can honour every parameter. No I/O."""
    job = job_for(request)
    for name in {request.model.provider, "local"}:
        try:
            provider = get_provider(name)
        except (ImportError, KeyError):
            continue  # adapter not installed: the local renderer serves the model
        try:
            provider.check(job)
        except InvalidJob as e:
            raise InvalidInput(e.message, field=e.field) from None
