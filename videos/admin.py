"""Operators' admin: the catalog (price and `enabled` editable), sessions and videos (read-only, for support).

Rows that services own (sessions, videos) are never edited here: stopping a session goes through
`services.session_stop`, like the dashboard and the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from videos import services
from videos.models import GenerationSession, Video, VideoModel
from videos.providers import availability


@admin.register(VideoModel)
class VideoModelAdmin(admin.ModelAdmin):
    list_display = ["model_id", "display_name", "provider", "type", "duration", "resolution", "credits", "enabled",
                    "availability_display", "lifecycle"]
    list_editable = ["credits", "enabled"]
    list_filter = ["provider", "type", "enabled", "lifecycle"]
    search_fields = ["model_id", "display_name", "vendor_model"]
    fields = ["model_id", "display_name", "provider", "type", "vendor_model", "mapping_note", "credits", "enabled",
              "availability_display", "duration", "durations", "resolution", "resolutions", "aspect_ratios",
              "default_aspect_ratio", "head_image", "tail_image", "params", "lifecycle", "lifecycle_note"]

    def get_readonly_fields(self, request: HttpRequest, obj: VideoModel | None = None) -> list[str]:
        # Only what an operator owns is editable; catalog_sync keeps the technical fields up to date.
        return [f for f in self.fields if f not in {"credits", "enabled"}]

    @admin.display(description="Availability")
    def availability_display(self, obj: VideoModel) -> str:
        return availability(obj.provider) if obj.enabled else "unavailable"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # models come from the catalog (catalog_sync)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # videos reference their model; disable it instead


class VideoInline(admin.TabularInline):
    model = Video
    fields = ["public_id", "sequence", "status", "progress", "provider", "simulated", "vendor_task_id",
              "credits_used", "error", "created_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["sequence"]


@admin.register(GenerationSession)
class GenerationSessionAdmin(admin.ModelAdmin):
    list_display = ["public_id", "owner", "model", "kind", "status", "videos_created", "max_videos", "created_at"]
    list_filter = ["status", "kind", "model__provider"]
    search_fields = ["public_id", "prompt", "owner__username"]
    list_select_related = ["owner", "model"]
    date_hierarchy = "created_at"
    readonly_fields = ["public_id", "owner", "model", "kind", "prompt", "params", "status", "max_videos",
                       "interval_seconds", "duration_minutes", "videos_created", "next_run_at", "ends_at", "error",
                       "created_at", "updated_at", "finished_at"]
    fields = readonly_fields
    inlines = [VideoInline]
    actions = ["stop"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Stop selected sessions", permissions=["change"])
    def stop(self, request: HttpRequest, queryset: QuerySet[GenerationSession]) -> None:
        stopped = 0
        for session in queryset:
            if not session.is_final:
                services.session_stop(session=session)
                stopped += 1
        self.message_user(request, f"{stopped} session(s) stopped.", messages.SUCCESS)


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["public_id", "owner", "model", "status", "stage", "progress", "provider", "simulated",
                    "vendor_task_id", "short_error", "credits_used", "created_at"]
    list_filter = ["status", "stage", "provider", "simulated", "error_code"]
    search_fields = ["public_id", "vendor_task_id", "prompt", "owner__username", "session__public_id"]
    list_select_related = ["owner", "model"]
    date_hierarchy = "created_at"
    readonly_fields = ["public_id", "session", "owner", "model", "sequence", "status", "progress", "provider",
                       "simulated", "prompt", "params", "duration", "aspect_ratio", "resolution", "width", "height",
                       "frame_rate", "credits_used", "stage", "lease_owner", "lease_until", "vendor_task_id",
                       "vendor_status", "file", "thumbnail", "last_frame", "file_size", "processing_time", "error",
                       "error_code", "error_detail", "attempts",
                       "next_poll_at", "deadline_at", "started_at", "completed_at", "created_at", "updated_at"]
    fields = readonly_fields

    @admin.display(description="Error")
    def short_error(self, obj: Video) -> str:
        return (obj.error_detail or obj.error)[:80]  # operators see the vendor's own words

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting a video skips its refund and files: delete its session from the dashboard/API
