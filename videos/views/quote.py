"""Costs before spending: the price of what the Try form describes, computed the way the API charges it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing import services as billing
from dashboard.http import HtmxHttpRequest
from videos import selectors
from videos.models import VideoModel
from videos.schemas import SessionIn

MAX_SESSION_VIDEOS = 100  # SessionIn's bound


@dataclass
class Quote:
    """What one video costs at the chosen duration, and what a session may spend at most."""

    model: VideoModel
    duration: int
    resolution: str
    per_video: Decimal
    videos: int  # 1, or the session's max_videos
    balance: Decimal
    is_session: bool = False
    budget: Decimal | None = None  # the session's cap, if set

    @property
    def most_videos(self) -> int:
        """Every video, or as many as the budget pays for (counting no refunds)."""
        if self.budget is not None and self.per_video > 0:
            return min(self.videos, int(self.budget // self.per_video))
        return self.videos

    @property
    def total(self) -> Decimal:
        return self.per_video * self.most_videos

    @property
    def affordable(self) -> int:
        """How many such videos the balance pays for."""
        return int(self.balance // self.per_video) if self.per_video > 0 else 0

    @property
    def covers(self) -> bool:
        return self.balance >= self.total


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return default
    return min(max(number, low), high)


def _budget(value: str | None) -> Decimal | None:
    try:
        budget = Decimal(value or "")
    except ArithmeticError:
        return None
    return budget if budget.is_finite() and budget > 0 else None


def quote_for(*, model: VideoModel, duration: str | int | None, resolution: str | None, mode: str | None,
              max_videos: str | int | None, balance: Decimal, budget: str | None = None) -> Quote:
    """The quote for these (possibly half-typed) inputs. Values the model does not offer fall back to its
    defaults, as the form shows them; the price is `VideoModel.price_for`, the number the services charge."""
    try:
        seconds = int(duration) if duration not in (None, "") else model.duration
    except (TypeError, ValueError):
        seconds = model.duration
    if seconds not in model.durations:
        seconds = model.duration
    chosen = (resolution or "").strip().lower()
    if chosen not in model.resolutions:
        chosen = model.resolution
    session = mode == "session"
    # Left blank, a session makes SessionIn's default number of videos: quote that, not the form's initial 3.
    default = SessionIn.model_fields["max_videos"].default
    videos = _int(str(max_videos) if max_videos is not None else None, default, 1, MAX_SESSION_VIDEOS) if session else 1
    return Quote(model=model, duration=seconds, resolution=chosen, per_video=model.price_for(seconds),
                 videos=videos, balance=balance, is_session=session, budget=_budget(budget) if session else None)


def quote_from(request: HtmxHttpRequest, model: VideoModel | None, source: dict | None = None) -> Quote | None:
    """The quote for the Try form's current values (GET or POST data)."""
    if model is None:
        return None
    data = source if source is not None else request.GET
    return quote_for(model=model, duration=data.get("duration"), resolution=data.get("resolution"),
                     mode=data.get("mode"), max_videos=data.get("max_videos"), budget=data.get("budget_credits"),
                     balance=billing.credit_balance(user=request.user))


@login_required
@require_GET
def price_quote(request: HtmxHttpRequest) -> HttpResponse:
    """`#price-quote`: re-fetched by the Try form whenever duration, resolution, mode or max videos change."""
    model = selectors.catalog().filter(model_id=request.GET.get("model", "")).first()
    return render(request, "videos/_price_quote.html#quote-body", {"quote": quote_from(request, model)})
