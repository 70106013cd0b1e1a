"""Dashboard and admin forms of billing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms


class ApiKeyForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    name = forms.CharField(label="Name", max_length=100, required=False,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. laptop, CI, my-app"}),
                           help_text="A label to tell your keys apart.")


class CreditGrantForm(forms.Form):
    """The admin action's form: credits go in as ledger rows (a grant), never as an edited balance."""

    amount = forms.DecimalField(label="Credits to grant", min_value=Decimal("0.01"), max_digits=12,
                                decimal_places=2)
    note = forms.CharField(label="Note", max_length=255, required=False,
                           help_text="Shown to the user in their ledger, e.g. “Invoice 2025-014”.")
