"""Operators' admin for keys and credits.

Balances are never edited: an operator grants credits with an admin action that writes ledger rows through
`services.credits_grant`. API keys are created through `services.api_key_issue`; the raw key is shown once,
on the page that answers the creation, and only its prefix afterwards.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from billing import services
from billing.forms import CreditGrantForm
from billing.models import ApiKey, CreditAccount, CreditEntry


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix_display", "name", "owner", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["owner", "name"]
        return ["prefix_display", "owner", "name", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        return ["prefix_display", "owner", "created_at", "last_used_at", "revoked_at"]

    @admin.display(description="Key", ordering="prefix")
    def prefix_display(self, obj: ApiKey) -> str:
        return f"{obj.prefix}…"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw = services.api_key_issue(user=obj.owner, name=obj.name)
        obj.pk, obj.prefix, obj.digest, obj.created_at = key.pk, key.prefix, key.digest, key.created_at
        request._new_api_key = raw  # type: ignore[attr-defined]  # shown by response_add, never stored

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        raw = getattr(request, "_new_api_key", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "key": obj, "raw_key": raw,
                   "title": "API key created"}
        response = TemplateResponse(request, "admin/billing/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key)
            count += 1
        self.message_user(request, f"{count} key(s) revoked.", messages.SUCCESS)


class CreditEntryInline(admin.TabularInline):
    model = CreditEntry
    fields = ["created_at", "kind", "delta", "balance_after", "video_id", "note", "created_by"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-created_at", "-id"]
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


READ_ONLY_FORM = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
                  "show_delete": False}


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ["user", "balance", "updated_at"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["balance", "updated_at"]
    autocomplete_fields = ["user"]
    actions = ["grant_credits"]
    inlines = [CreditEntryInline]

    def get_readonly_fields(self, request: HttpRequest, obj: CreditAccount | None = None) -> list[str]:
        return ["user", "balance", "updated_at"] if obj else ["balance", "updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the ledger is the history of money: never deleted from here

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Nothing on an account is edited by hand (grants are an action): no Save buttons."""
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **READ_ONLY_FORM})

    @admin.action(description="Grant credits to selected accounts", permissions=["change"])
    def grant_credits(self, request: HttpRequest, queryset: QuerySet[CreditAccount]) -> HttpResponse | None:
        """An intermediate page asks for the amount; each account gets one ledger row (kind "grant")."""
        form = CreditGrantForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            batch = uuid.uuid4().hex
            for account in queryset.select_related("user"):
                services.credits_grant(
                    user=account.user, amount=form.cleaned_data["amount"], key=f"admin-grant:{batch}:{account.pk}",
                    note=form.cleaned_data["note"] or "Granted by an operator", by=request.user.get_username())
            self.message_user(request, f"Granted {form.cleaned_data['amount']} credits to {queryset.count()} "
                                       f"account(s).", messages.SUCCESS)
            return None
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "accounts": queryset.select_related("user"), "title": "Grant credits",
                   "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME, "now": timezone.now()}
        return TemplateResponse(request, "admin/billing/creditaccount/grant.html", context)


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    """The ledger, read-only: rows are written by services only."""

    list_display = ["created", "user", "kind", "delta", "balance_after", "video_link", "session_link", "note"]
    list_filter = ["kind", "created_at"]
    search_fields = ["key", "video_id", "session_id", "account__user__username", "note"]
    list_select_related = ["account__user"]
    date_hierarchy = "created_at"

    @admin.display(description="Date", ordering="created_at")
    def created(self, obj: CreditEntry) -> str:
        return timezone.localtime(obj.created_at).strftime("%d %b %Y %H:%M")

    @admin.display(description="User", ordering="account__user__username")
    def user(self, obj: CreditEntry) -> str:
        return obj.account.user.get_username()

    @admin.display(description="Video", ordering="video_id")
    def video_link(self, obj: CreditEntry) -> str:
        if not obj.video_id:
            return "—"
        url = reverse("admin:videos_video_changelist") + f"?q={obj.video_id}"
        return format_html('<a href="{}">{}</a>', url, obj.video_id)

    @admin.display(description="Session")
    def session_link(self, obj: CreditEntry) -> str:
        if not obj.session_id:
            return "—"
        url = reverse("admin:videos_generationsession_changelist") + f"?q={obj.session_id}"
        return format_html('<a href="{}">{}</a>', url, obj.session_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
