"""The Try form: the dashboard's way of writing a GenerateIn / SessionIn.

The form only gathers input and shows errors. Every rule about a model (which images, durations, ratios,
provider options it takes) is checked by `services.request_validate`, the same code the API runs; the form
merely hides the inputs the selected model does not take.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse
from pydantic import ValidationError

from videos.models import GenerationSession, Video, VideoModel
from videos.schemas import PROVIDER_PARAMS, GenerateIn, SessionIn
from videos.serializers import model_dict

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the spec's limit per image
IMAGE_TYPES = "image/png,image/jpeg,image/webp"
TRI_STATE = [("", "Vendor default"), ("true", "On"), ("false", "Off")]
STRATEGIES = [("", "Default"), ("cinematic", "Cinematic"), ("realistic", "Realistic"), ("animated", "Animated"),
              ("artistic", "Artistic")]
PROVIDER_LABELS = {
    "minimax": "MiniMax Hailuo", "luma": "Luma", "runway": "Runway", "kling": "Kling AI", "veo": "Google Veo",
    "sora": "OpenAI Sora", "wan": "Alibaba WAN", "pika": "Pika", "local": "Local renderer",
}
# Form fields that are the GenerateIn field of the same name (the API's names, so errors map 1:1).
PASS_THROUGH = ("duration", "aspect_ratio", "resolution", "width", "height", "frame_rate", "strategy", "seed",
                "strength")
BOOLEAN_PARAMS = ("promptOptimizer", "generateAudio", "wanAudio")
ADVANCED_FIELDS = ("width", "height", "frame_rate", "strategy", "seed")
SESSION_FIELDS = ("max_videos", "interval_seconds", "duration_minutes", "budget_credits")


def model_label(info: dict[str, Any]) -> str:
    """`Ray 2 Flash · 5s — T2V · 5s · 720P · 20 credits · simulated`: everything needed to choose."""
    durations = "/".join(f"{d}" for d in info["durations"]) + "s"
    return (f"{info['name']} — {info['type'].upper()} · {durations} · {info['resolution']} · "
            f"{info['credits']:g} credits · {info['available']}")


def model_choices(models: list[VideoModel]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The catalog grouped by provider, for <optgroup>s."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for model in models:
        groups.setdefault(PROVIDER_LABELS.get(model.provider, model.provider), []).append(
            (model.model_id, model_label(model_dict(model))))
    return list(groups.items())


def _data_uri(upload: UploadedFile) -> str:
    """An upload as a `data:` URI: the service vets it exactly like a URL or a data URI from the API."""
    content_type = upload.content_type or "application/octet-stream"
    return f"data:{content_type};base64,{base64.b64encode(upload.read()).decode()}"


class TryForm(forms.Form):
    """One generation, or a timed session when `mode` is "session". `model` decides which inputs show."""

    model = forms.ChoiceField(label="Model")
    prompt = forms.CharField(
        label="Prompt", max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A cat playing with a ball of yarn, soft morning light"}),
        help_text="Describe the scene, and for image models the motion you want.",
    )
    head_image = forms.CharField(label="Image URL", required=False, max_length=2000,
                                 widget=forms.URLInput(attrs={"placeholder": "https://…"}))
    head_image_file = forms.FileField(label="or upload", required=False,
                                      widget=forms.ClearableFileInput(attrs={"accept": IMAGE_TYPES}))
    tail_image = forms.CharField(label="End image URL", required=False, max_length=2000,
                                 widget=forms.URLInput(attrs={"placeholder": "https://…"}))
    tail_image_file = forms.FileField(label="or upload", required=False,
                                      widget=forms.ClearableFileInput(attrs={"accept": IMAGE_TYPES}))
    duration = forms.TypedChoiceField(label="Duration", coerce=int, required=False, empty_value=None)
    aspect_ratio = forms.ChoiceField(label="Aspect ratio", required=False)
    resolution = forms.ChoiceField(label="Resolution", required=False)
    # Provider-specific
    promptOptimizer = forms.ChoiceField(label="Prompt optimizer", choices=TRI_STATE, required=False)
    generateAudio = forms.ChoiceField(label="Generate audio", choices=TRI_STATE, required=False)
    wanAudio = forms.ChoiceField(label="WAN audio", choices=TRI_STATE, required=False)
    strength = forms.IntegerField(label="Strength (0–100)", required=False, min_value=0, max_value=100)
    # Advanced
    width = forms.IntegerField(label="Width (px)", required=False, min_value=128, max_value=3840)
    height = forms.IntegerField(label="Height (px)", required=False, min_value=128, max_value=3840)
    frame_rate = forms.IntegerField(label="Frame rate (fps)", required=False, min_value=12, max_value=60)
    strategy = forms.ChoiceField(label="Style", choices=STRATEGIES, required=False)
    seed = forms.IntegerField(label="Seed", required=False, min_value=0, max_value=2_147_483_647,
                              help_text="Same seed, same video (local renderer).")
    # Session mode
    mode = forms.ChoiceField(label="Mode", choices=[("single", "One video"), ("session", "Session (several videos)")],
                             initial="single", widget=forms.RadioSelect)
    max_videos = forms.IntegerField(label="Max videos", min_value=1, max_value=100, initial=3, required=False)
    interval_seconds = forms.IntegerField(label="Interval (seconds)", min_value=10, max_value=86400, initial=60,
                                          required=False)
    duration_minutes = forms.IntegerField(label="Duration (minutes)", min_value=1, max_value=1440, initial=30,
                                          required=False)
    budget_credits = forms.DecimalField(label="Budget (credits)", min_value=0.01, max_value=10_000_000,
                                        decimal_places=2, required=False,
                                        widget=forms.NumberInput(attrs={"placeholder": "No cap", "step": "0.01"}),
                                        help_text="Optional: the session ends before a video would pass it.")

    def __init__(self, *args: Any, models: list[VideoModel], selected: VideoModel | None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.selected = selected
        self.fields["model"].choices = model_choices(models)
        self.fields["model"].initial = selected.model_id if selected else None
        # Choosing a model fetches the inputs that model takes (try.html#model-fields).
        self.fields["model"].widget.attrs.update({
            "hx-get": reverse("videos:try"), "hx-trigger": "change", "hx-target": "#model-fields",
            "hx-swap": "outerHTML", "hx-sync": "this:replace",
            # The new model's price depends on the mode and session size: send them along.
            "hx-include": "#try-form [name=mode]:checked, #try-form [name=max_videos], #try-form [name=budget_credits]",
        })
        if selected is not None:
            self.fields["duration"].choices = [(d, f"{d} s") for d in selected.durations]
            self.fields["duration"].initial = selected.duration
            self.fields["aspect_ratio"].choices = [(r, r) for r in selected.aspect_ratios]
            self.fields["aspect_ratio"].initial = selected.default_aspect_ratio
            self.fields["resolution"].choices = [(r, r.upper() if r.endswith("p") else r) for r in selected.resolutions]
            self.fields["resolution"].initial = selected.resolution
            if selected.type == VideoModel.Type.KF2V or selected.tail_image == VideoModel.Input.REQUIRED:
                self.fields["head_image"].label = "Start image URL"

    # --- What the selected model takes (the template shows only these) ---------------------------------
    @property
    def takes_head(self) -> bool:
        return self.selected is not None and self.selected.head_image != VideoModel.Input.NONE

    @property
    def takes_tail(self) -> bool:
        return self.selected is not None and self.selected.tail_image != VideoModel.Input.NONE

    @property
    def head_required(self) -> bool:
        return self.selected is not None and self.selected.head_image == VideoModel.Input.REQUIRED

    @property
    def tail_required(self) -> bool:
        return self.selected is not None and self.selected.tail_image == VideoModel.Input.REQUIRED

    @property
    def provider_fields(self) -> list[forms.BoundField]:
        taken = set(self.selected.params) if self.selected else set()
        return [self[name] for name in PROVIDER_PARAMS if name in taken]

    @property
    def provider_label(self) -> str:
        return PROVIDER_LABELS.get(self.selected.provider, self.selected.provider) if self.selected else ""

    @property
    def provider_open(self) -> bool:
        return any(f.name in self.errors for f in self.provider_fields)

    @property
    def advanced_open(self) -> bool:
        return any(name in self.errors for name in ADVANCED_FIELDS)

    def visible_error_fields(self) -> set[str]:
        """Fields whose errors the template shows next to an input; other errors go above the form."""
        shown = {"model", "prompt", "duration", "aspect_ratio", "resolution", "width", "height", "frame_rate",
                 "strategy", "seed", "mode", *SESSION_FIELDS}
        if self.takes_head:
            shown.add("head_image")
        if self.takes_tail:
            shown.add("tail_image")
        shown.update(f.name for f in self.provider_fields)
        return shown

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in ("head_image", "tail_image"):
            upload = cleaned.get(f"{name}_file")
            if upload and cleaned.get(name):
                self.add_error(name, "Give a URL or an upload, not both.")
            if upload and upload.size > MAX_UPLOAD_BYTES:
                self.add_error(name, "This image is larger than 10 MB.")
        return cleaned

    # --- The request the services take ----------------------------------------------------------------
    @property
    def is_session(self) -> bool:
        return self.cleaned_data.get("mode") == "session"

    def payload(self) -> dict[str, Any]:
        """The API-shaped body for GenerateIn / SessionIn: only what the user set, images as URL or data URI."""
        data = self.cleaned_data
        body: dict[str, Any] = {"model": data["model"], "prompt": data["prompt"]}
        for name in ("head_image", "tail_image"):
            if upload := data.get(f"{name}_file"):
                body[name] = _data_uri(upload)
            elif data.get(name):
                body[name] = data[name].strip()
        for name in PASS_THROUGH:
            if data.get(name) not in (None, ""):
                body[name] = data[name]
        for name in BOOLEAN_PARAMS:
            if data.get(name):
                body[name] = data[name] == "true"
        if self.is_session:
            for name in SESSION_FIELDS:
                if data.get(name) is not None:
                    body[name] = float(data[name]) if name == "budget_credits" else data[name]
        # Options of inputs the model does not take were hidden: don't let a stale value trip the service.
        if self.selected is not None:
            taken = set(self.selected.params)
            for name in PROVIDER_PARAMS:
                if name not in taken:
                    body.pop(name, None)
            if not self.takes_head:
                body.pop("head_image", None)
            if not self.takes_tail:
                body.pop("tail_image", None)
        return body

    def schema(self) -> GenerateIn:
        """The validated schema; pydantic's errors are attached to their fields and re-raised as ValueError."""
        schema_cls = SessionIn if self.is_session else GenerateIn
        try:
            return schema_cls.model_validate(self.payload())
        except ValidationError as e:
            for error in e.errors():
                loc = [str(part) for part in error.get("loc", ()) if isinstance(part, str)]
                self.add_error_for(loc[-1] if loc else None, error.get("msg", "Invalid value."))
            raise ValueError("invalid input") from None

    def add_error_for(self, field: str | None, message: str) -> None:
        """Put a service error next to its input when that input is on screen, else above the form.

        The services speak the API's language ("set head_image"); people read the form's labels instead."""
        message = humanize(message, models=[self.selected] if self.selected else [])
        if field in self.fields and field in self.visible_error_fields():
            self.add_error(field, message)
        else:
            self.add_error(None, message)


# The API's field names as the form calls them, longest first so "head_image_file" never half-matches.
FIELD_WORDS = {
    "head_image": "the start image", "tail_image": "the end image", "aspect_ratio": "the aspect ratio",
    "frame_rate": "the frame rate", "promptOptimizer": "the prompt optimizer", "generateAudio": "audio generation",
    "wanAudio": "WAN audio", "max_videos": "max videos", "interval_seconds": "the interval",
    "duration_minutes": "the session length", "budget_credits": "the budget", "resolution": "the resolution", "duration": "the duration",
    "width": "the width", "height": "the height", "strategy": "the style", "strength": "the strength",
}
_PHRASES = [
    (re.compile(r"^Value error, "), ""),
    (re.compile(r"\b(an?|the|give) the\b"), r"\1"),  # pydantic's prefix on validator messages
    (re.compile(r": set (the (?:start|end) image)\."), r": add \1 (a URL or an upload)."),
    (re.compile(r"^String should have at most (\d+) characters?$"), r"Keep it under \1 characters."),
    (re.compile(r"^Input should be greater than or equal to (\S+)$"), r"Use \1 or more."),
    (re.compile(r"^Input should be less than or equal to (\S+)$"), r"Use \1 or less."),
    (re.compile(r"^Field required$"), "This field is required."),
]
_FIELD_NAMES = re.compile(r"\b(" + "|".join(sorted(FIELD_WORDS, key=len, reverse=True)) + r")\b")


def humanize(message: str, *, models: list[VideoModel] = ()) -> str:
    """A service or pydantic message in the form's words: labels for field names, the model's name for its id."""
    for model in models:
        message = message.replace(model.model_id, model.display_name)
    message = _FIELD_NAMES.sub(lambda m: FIELD_WORDS[m.group(1)], message)
    for pattern, replacement in _PHRASES:
        message = pattern.sub(replacement, message)
    return message[:1].upper() + message[1:]


class HistoryFilterForm(forms.Form):
    """History filters (GET). Invalid values are ignored by the view rather than shown as errors."""

    search = forms.CharField(label="Search prompts", required=False, max_length=200,
                             widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. sunset"}))
    status = forms.ChoiceField(label="Status", required=False,
                               choices=[("", "Any status"), *Video.Status.choices])
    model = forms.ChoiceField(label="Model", required=False)

    def __init__(self, *args: Any, models: list[VideoModel], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "Any model"), *model_choices_short(models)]


class SessionFilterForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    search = forms.CharField(label="Search prompts", required=False, max_length=200,
                             widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. mountain"}))
    status = forms.ChoiceField(label="Status", required=False,
                               choices=[("", "Any status"), *GenerationSession.Status.choices])


def model_choices_short(models: list[VideoModel]) -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for model in models:
        groups.setdefault(PROVIDER_LABELS.get(model.provider, model.provider), []).append(
            (model.model_id, model.display_name))
    return list(groups.items())
