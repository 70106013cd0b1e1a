"""Admin: endpoints and their delivery log, read-mostly (secrets are never displayed)."""

from django.contrib import admin

from webhooks.models import Attempt, Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("public_id", "owner", "url", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("public_id", "url", "owner__username")
    exclude = ("secret",)
    readonly_fields = ("public_id", "owner", "failing_since", "created_at", "updated_at")


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "manual", "status_code", "latency_ms", "error", "response_excerpt", "succeeded")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("public_id", "message__event", "url", "status", "attempt_count", "next_attempt_at", "created_at")
    list_filter = ("status",)
    search_fields = ("public_id", "url", "message__public_id", "message__object_id")
    readonly_fields = ("public_id", "message", "endpoint", "url", "attempt_count", "created_at", "updated_at")
    inlines = (AttemptInline,)
