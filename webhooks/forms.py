"""Dashboard form of webhooks: register an endpoint."""

from __future__ import annotations

from typing import Any

from django import forms

from webhooks.models import EVENTS


class EndpointForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    url = forms.CharField(label="Endpoint URL", max_length=2048,
                          widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/video"}),
                          help_text="We POST signed JSON here (Standard Webhooks). Redirects are not followed.")
    description = forms.CharField(label="Description", max_length=200, required=False)
    events = forms.MultipleChoiceField(label="Events", choices=[(e, e) for e in EVENTS], initial=list(EVENTS),
                                       widget=forms.CheckboxSelectMultiple, required=False,
                                       help_text="None ticked means every event.")
