"""Operators' admin: the catalog (price and `enabled` editable), sessions and videos (read-only, for support).

Rows that services own (sessions, videos) are never edited here: stopping a session goes through
`services.session_stop`, like the dashboard and the API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from videos import files, health, services
from videos.models import GenerationSession, VendorState, Video, VideoModel
from videos.services import vendor_state

# The app list beside every page costs ~300 px: at 1366 px the change lists' columns need them more.
# Every app stays one click away on the admin home and in the breadcrumbs.
admin.site.enable_nav_sidebar = False

READ_ONLY_FORM = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
                  "show_delete": False}  # nothing on the page is editable: no buttons that pretend otherwise


def _link(url: str, text: str) -> str:
    return format_html('<a href="{}">{}</a>', url, text)


def _ledger_url(**lookup: str) -> str:
    return reverse("admin:billing_creditentry_changelist") + "?" + urlencode(lookup)


class ReadOnlyFormMixin:
    """Change pages of rows that services own: viewable, acted on through actions, never saved."""

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **READ_ONLY_FORM})


class StuckFilter(admin.SimpleListFilter):
    """Not final and untouched for longer than N minutes: a lost message, a dead worker, a silent vendor."""

    title = "stuck for more than"
    parameter_name = "stuck"
    MINUTES = {"10": "10 minutes", "30": "30 minutes", "60": "1 hour", "240": "4 hours"}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(self.MINUTES.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in self.MINUTES:
            return queryset
        since = timezone.now() - timedelta(minutes=int(self.value()))
        return queryset.exclude(status__in=Video.FINAL).filter(updated_at__lt=since)


@admin.register(VideoModel)
class VideoModelAdmin(admin.ModelAdmin):
    list_display = ["model_id", "display_name", "provider", "type", "duration", "resolution", "credits", "enabled",
                    "availability_display", "lifecycle"]
    list_editable = ["credits", "enabled"]
    list_filter = ["provider", "type", "enabled", "lifecycle"]
    search_fields = ["model_id", "display_name", "vendor_model"]
    fields = ["model_id", "display_name", "provider", "type", "vendor_model", "mapping_note", "credits", "enabled",
              "fallback", "availability_display", "duration", "durations", "resolution", "resolutions", "aspect_ratios",
              "default_aspect_ratio", "head_image", "tail_image", "params", "lifecycle", "lifecycle_note"]

    def get_readonly_fields(self, request: HttpRequest, obj: VideoModel | None = None) -> list[str]:
        # Only what an operator owns is editable; catalog_sync keeps the technical fields up to date.
        return [f for f in self.fields if f not in {"credits", "enabled", "fallback"}]

    @admin.display(description="Availability")
    def availability_display(self, obj: VideoModel) -> str:
        return health.model_availability(obj)

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
class GenerationSessionAdmin(ReadOnlyFormMixin, admin.ModelAdmin):
    list_display = ["public_id", "owner", "model", "kind", "status", "videos_created", "max_videos", "created_at"]
    list_filter = ["status", "kind", "model__provider"]
    search_fields = ["public_id", "prompt", "owner__username"]
    list_select_related = ["owner", "model"]
    date_hierarchy = "created_at"
    readonly_fields = ["public_id", "owner", "model", "kind", "prompt", "params", "status", "max_videos",
                       "interval_seconds", "duration_minutes", "budget_credits", "videos_created", "next_run_at",
                       "ends_at", "error", "created_at", "updated_at", "finished_at"]
    fields = readonly_fields
    inlines = [VideoInline]
    actions = ["stop"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Related")
    def related(self, obj: GenerationSession) -> str:
        videos = reverse("admin:videos_video_changelist") + f"?session__id__exact={obj.pk}"
        parts = [_link(videos, "its videos"), _link(_ledger_url(session_id=obj.public_id), "its ledger rows"),
                 _link(reverse("admin:auth_user_change", args=[obj.owner_id]), f"owner {obj.owner}")]
        if obj.api_key_id:
            parts.append(_link(reverse("admin:billing_apikey_change", args=[obj.api_key_id]), "its API key"))
        return format_html_join(" · ", "{}", ((p,) for p in parts))

    readonly_fields = ["related", *readonly_fields]
    fields = readonly_fields  # noqa: PIE794 (redefined with the links, apart from the list above for merges)

    @admin.action(description="Stop selected sessions", permissions=["change"])
    def stop(self, request: HttpRequest, queryset: QuerySet[GenerationSession]) -> None:
        stopped = 0
        for session in queryset:
            if not session.is_final:
                services.session_stop(session=session)
                stopped += 1
        self.message_user(request, f"{stopped} session(s) stopped.", messages.SUCCESS)


@admin.register(Video)
class VideoAdmin(ReadOnlyFormMixin, admin.ModelAdmin):
    list_display = ["public_id", "owner", "model", "status", "progress", "provider", "simulated", "vendor_task_id",
                    "short_error", "credits_used", "created_at"]
    list_filter = [StuckFilter, "status", "stage", "provider", "simulated", "error_code"]
    search_fields = ["public_id", "vendor_task_id", "prompt", "owner__username", "session__public_id"]
    list_select_related = ["owner", "model"]
    date_hierarchy = "created_at"
    readonly_fields = ["public_id", "session", "owner", "model", "sequence", "status", "progress", "provider",
                       "simulated", "prompt", "params", "duration", "aspect_ratio", "resolution", "width", "height",
                       "frame_rate", "credits_used", "stage", "lease_owner", "lease_until", "vendor_task_id",
                       "vendor_status", "file", "thumbnail", "last_frame", "file_size", "processing_time", "error",
                       "error_code", "error_detail", "attempts", "previous_attempts",
                       "next_poll_at", "deadline_at", "started_at", "completed_at", "created_at", "updated_at"]
    fields = readonly_fields

    @admin.display(description="Error")
    def short_error(self, obj: Video) -> str:
        return (obj.error_detail or obj.error)[:80]  # operators see the vendor's own words

    @admin.display(description="Related")
    def related(self, obj: Video) -> str:
        parts = [_link(reverse("admin:videos_generationsession_change", args=[obj.session_id]),
                       f"session {obj.session.public_id}"),
                 _link(_ledger_url(video_id=obj.public_id), "its ledger rows"),
                 _link(reverse("admin:auth_user_change", args=[obj.owner_id]), f"owner {obj.owner}")]
        return format_html_join(" · ", "{}", ((p,) for p in parts))

    @admin.display(description="Files")
    def file_links(self, obj: Video) -> str:
        base = files.base_url()
        names = [("video", obj.file), ("thumbnail", obj.thumbnail), ("last frame", obj.last_frame),
                 ("input image", obj.session.params.get("head_image", "")),
                 ("end image", obj.session.params.get("tail_image", ""))]
        links = [(files.file_url(name, base=base), label) for label, name in names if name]
        return format_html_join(" · ", '<a href="{}">{}</a>', links) if links else "—"

    @admin.display(description="Idle for")
    def idle(self, obj: Video) -> str:
        if obj.is_final:
            return "—"
        minutes = int((timezone.now() - obj.updated_at).total_seconds() // 60)
        return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"

    readonly_fields = ["related", "file_links", *readonly_fields]
    fields = readonly_fields  # noqa: PIE794 (redefined with the links, apart from the list above for merges)
    # Narrow enough for 1366 px: progress, the simulated flag and the vendor's task id are on the video's page
    # (and in the filters and the search).
    list_display = [*list_display[:4], "idle",
                    *({"created_at": "created"}.get(f, f) for f in list_display[4:]
                      if f not in {"progress", "simulated", "vendor_task_id"})]

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Video) -> str:
        return timezone.localtime(obj.created_at).strftime("%d %b %H:%M")
    actions = ["fail_and_refund", "retry"]

    @admin.action(description="Fail and refund selected videos", permissions=["change"])
    def fail_and_refund(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        """video_fail: marked failed, its charge refunded once (a final video is left alone)."""
        done = 0
        for video in queryset.exclude(status__in=Video.FINAL):
            services.video_fail(video.pk, error=f"Stopped by an operator ({request.user.get_username()}).",
                                code="operator")
            done += 1
        skipped = queryset.count() - done
        self.message_user(request, f"{done} video(s) failed and refunded" +
                          (f"; {skipped} already final, left alone." if skipped else "."), messages.SUCCESS)

    @admin.action(description="Retry selected stuck videos (send their work again)", permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        """Re-send what a lost message or dead worker dropped: the start, or the next poll of a vendor job.
        The tasks are idempotent (a submitted job is never submitted twice), so a retry is safe."""
        from videos.tasks import video_poll_task, video_start_task

        sent = 0
        for video in queryset.exclude(status__in=Video.FINAL):
            if video.vendor_task_id:
                video_poll_task.delay(video.pk)
            else:
                video_start_task.delay(video.pk)
            sent += 1
        self.message_user(request, f"Work sent again for {sent} video(s); final ones were left alone.",
                          messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting a video skips its refund and files: delete its session from the dashboard/API


@admin.register(VendorState)
class VendorStateAdmin(admin.ModelAdmin):
    """Vendor health for operators: the users' figures plus the vendor's raw errors, and the way back from an
    auto-disable (the key was fixed) without waiting for the probe."""

    list_display = ["vendor", "auth_state", "auth_failures", "in_flight", "queued", "success_rate", "median",
                    "last_error_class", "raw_error", "last_error_at", "disabled_at", "probe_at", "probe_result"]
    list_filter = ["auth_state"]
    readonly_fields = ["vendor", "auth_state", "auth_failures", "in_flight", "queued", "success_rate", "median",
                       "last_error_class", "last_error_detail", "last_error_at", "disabled_at", "probe_at",
                       "probe_result", "recent_failures"]
    fields = readonly_fields
    actions = ["mark_key_fixed", "probe"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        vendor_state.vendor_states_ensure(health.vendor_names())  # every vendor listed, even before its first job
        health.vendors_health(fresh=True)  # the page shows now, and its rows read this from the cache
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        health.vendors_health(fresh=True)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **READ_ONLY_FORM})

    def _of(self, obj: VendorState) -> health.VendorHealth | None:
        return health.vendors_health().get(obj.vendor)

    @admin.display(description="In flight / cap")
    def in_flight(self, obj: VendorState) -> str:
        h = self._of(obj)
        return f"{h.in_flight} / {h.capacity}" if h else "—"

    @admin.display(description="Queued")
    def queued(self, obj: VendorState) -> str:
        h = self._of(obj)
        return str(h.queued) if h else "—"

    @admin.display(description="Success (1 h)")
    def success_rate(self, obj: VendorState) -> str:
        h = self._of(obj)
        if not h or h.success_rate is None:
            return "—"
        return f"{h.success_rate:.0%} of {h.finished_last_hour}"

    @admin.display(description="Median (1 h)")
    def median(self, obj: VendorState) -> str:
        h = self._of(obj)
        return f"{h.median_seconds:.0f} s" if h and h.median_seconds is not None else "—"

    @admin.display(description="Vendor's last error (raw)")
    def raw_error(self, obj: VendorState) -> str:
        return obj.last_error_detail[:120] or "—"  # operators only: users never see the vendor's words

    @admin.display(description="Recent failures (raw vendor text)")
    def recent_failures(self, obj: VendorState) -> str:
        failed = (Video.objects.filter(provider=obj.vendor, stage=Video.Stage.FAILED).exclude(error_detail="")
                  .order_by("-completed_at")[:10])
        rows = [(reverse("admin:videos_video_change", args=[v.pk]), v.public_id, v.error_code, v.error_detail[:300])
                for v in failed]
        return format_html_join("", '<p><a href="{}">{}</a> {}: {}</p>', rows) if rows else "—"

    @admin.action(description="Mark vendor key fixed (re-enable its models)", permissions=["change"])
    def mark_key_fixed(self, request: HttpRequest, queryset: QuerySet[VendorState]) -> None:
        who = f"operator {request.user.get_username()}"
        done = [s.vendor for s in queryset if vendor_state.vendor_enable(vendor=s.vendor, by=who)]
        self.message_user(request, f"Re-enabled: {', '.join(done)}." if done else "Nothing to re-enable.",
                          messages.SUCCESS)

    @admin.action(description="Probe the key now (an authenticated call)", permissions=["change"])
    def probe(self, request: HttpRequest, queryset: QuerySet[VendorState]) -> None:
        results = [f"{s.vendor}: {vendor_state.vendor_probe(vendor=s.vendor)}" for s in queryset]
        self.message_user(request, "; ".join(results), messages.INFO)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
