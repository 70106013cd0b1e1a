"""Pricing: the model catalog, the same data as GET /api/v3/media-pricing/models."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.http import HtmxHttpRequest
from videos import selectors
from videos.forms import PROVIDER_LABELS
from videos.serializers import model_dict


@login_required
@require_GET
def pricing(request: HtmxHttpRequest) -> HttpResponse:
    groups: dict[str, list[dict[str, object]]] = {}
    for model in selectors.catalog():
        groups.setdefault(PROVIDER_LABELS.get(model.provider, model.provider), []).append(model_dict(model))
    return render(request, "videos/pricing.html", {"groups": groups})
