"""The model catalog, generation sessions and their videos."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from videos.ids import new_session_id, new_video_id


class VideoModel(models.Model):
    """One entry of the catalog: an MCPHub model id, the vendor call behind it and its price."""

    class Type(models.TextChoices):
        T2V = "t2v", "Text-to-video"
        I2V = "i2v", "Image-to-video"
        KF2V = "kf2v", "Keyframe-to-video"

    class Input(models.TextChoices):  # whether the model takes a head / tail image
        NONE = "none"
        OPTIONAL = "optional"
        REQUIRED = "required"

    class Lifecycle(models.TextChoices):
        ACTIVE = "active"
        PREVIEW = "preview"
        SHUT_DOWN = "shut_down", "Shut down by vendor"

    model_id = models.SlugField(max_length=80, unique=True)
    provider = models.CharField(max_length=16, db_index=True)  # minimax, luma, runway, kling, veo, sora, wan, pika
    display_name = models.CharField(max_length=120)
    type = models.CharField(max_length=4, choices=Type.choices)
    vendor_model = models.CharField(max_length=80)
    mapping_note = models.CharField(max_length=255, blank=True)  # where the vendor call differs from the id
    head_image = models.CharField(max_length=8, choices=Input.choices, default=Input.NONE)
    tail_image = models.CharField(max_length=8, choices=Input.choices, default=Input.NONE)
    duration = models.PositiveSmallIntegerField()  # default seconds
    durations = models.JSONField(default=list)  # allowed seconds
    resolution = models.CharField(max_length=8)  # default, e.g. "768p"
    resolutions = models.JSONField(default=list)
    aspect_ratios = models.JSONField(default=list)
    default_aspect_ratio = models.CharField(max_length=8, default="16:9")
    params = models.JSONField(default=list, blank=True)  # provider-specific fields accepted, e.g. ["promptOptimizer"]
    credits = models.DecimalField(max_digits=10, decimal_places=2)  # per video of the default duration
    enabled = models.BooleanField(default=True)
    lifecycle = models.CharField(max_length=10, choices=Lifecycle.choices, default=Lifecycle.ACTIVE)
    lifecycle_note = models.CharField(max_length=255, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    # The operator's default failover: where a video of this model goes when its vendor fails it for a transient
    # reason after accepting it (unless the request named its own `fallback_models`). Kept by catalog_sync.
    fallback = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text="Model to resubmit to when this one's vendor fails a job transiently.")

    class Meta:
        ordering = ["sort_order", "model_id"]
        constraints = [models.CheckConstraint(condition=Q(credits__gt=0), name="model_credits_positive")]

    def __str__(self) -> str:
        return self.model_id

    def price_for(self, duration: int) -> Decimal:
        """Credits for one video of `duration` seconds: the list price scales with length."""
        return (self.credits * Decimal(duration) / Decimal(self.duration)).quantize(Decimal("0.01"))


class GenerationSession(models.Model):
    class Status(models.TextChoices):  # the spec's words
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        STOPPED = "stopped"
        ERROR = "error"

    FINAL = {Status.COMPLETED, Status.STOPPED, Status.ERROR}

    class Kind(models.TextChoices):
        SINGLE = "single"  # POST /videos/generate: a session of one video
        TIMED = "timed"  # POST /videos/sessions

    public_id = models.CharField(max_length=32, unique=True, default=new_session_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_sessions")
    model = models.ForeignKey(VideoModel, on_delete=models.PROTECT, related_name="sessions")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SINGLE)
    prompt = models.TextField()
    params = models.JSONField(default=dict)  # the normalised request, shared by every video
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    max_videos = models.PositiveIntegerField(default=1)
    interval_seconds = models.PositiveIntegerField(default=60)
    duration_minutes = models.PositiveIntegerField(default=30)
    videos_created = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ends_at = models.DateTimeField(null=True, blank=True)  # no new video after this
    # A timed session's cap on what it spends (ledger: charges less refunds); null: only max_videos bounds it.
    budget_credits = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    error = models.TextField(blank=True)
    # The client's Idempotency-Key header, with a digest of its request: a retried POST returns this session.
    idempotency_key = models.CharField(max_length=128, blank=True)
    request_digest = models.CharField(max_length=64, blank=True)
    # The API key that created it (usage per key); null from the dashboard, or once the key is deleted.
    api_key = models.ForeignKey("billing.ApiKey", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="sessions")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="one_session_per_idempotency_key"),
            models.CheckConstraint(condition=Q(budget_credits__isnull=True) | Q(budget_credits__gt=0),
                                   name="session_budget_positive"),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class Video(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        COMPLETED = "completed"
        FAILED = "failed"

    FINAL = {Status.COMPLETED, Status.FAILED}

    class Stage(models.TextChoices):
        """Where the video is in its life (internal; `status` is what clients see). videos/lifecycle.py owns it."""

        QUEUED = "queued"  # charged, waiting for a worker (or a vendor slot)
        DISPATCHED = "dispatched"  # a vendor slot is reserved; its start task submits
        SUBMITTING = "submitting"  # a worker holds the lease and is sending the job to the vendor
        SUBMITTED = "submitted"  # the vendor has it (vendor_task_id): polled until it finishes
        RENDERING = "rendering"  # a worker holds the lease and renders it locally
        STORING = "storing"  # a worker holds the lease and stores the result
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    public_id = models.CharField(max_length=32, unique=True, default=new_video_id, editable=False)
    session = models.ForeignKey(GenerationSession, on_delete=models.CASCADE, related_name="videos")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="videos")
    model = models.ForeignKey(VideoModel, on_delete=models.PROTECT, related_name="videos")
    sequence = models.PositiveIntegerField(default=0)  # n-th video of its session
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    provider = models.CharField(max_length=16)  # who actually makes it: a vendor or "local"
    simulated = models.BooleanField(default=False)  # vendor model rendered locally (no credentials)
    prompt = models.TextField()
    params = models.JSONField(default=dict)
    duration = models.PositiveSmallIntegerField()
    aspect_ratio = models.CharField(max_length=8)
    resolution = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    frame_rate = models.PositiveSmallIntegerField(default=24)
    credits_used = models.DecimalField(max_digits=10, decimal_places=2)
    vendor_task_id = models.CharField(max_length=255, blank=True)
    vendor_status = models.CharField(max_length=64, blank=True)  # the vendor's own word, nothing else
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.QUEUED, db_index=True)
    # The database lease on the work in hand: who holds it (host:pid:token) and until when (renewed while it runs).
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, db_index=True)
    file = models.CharField(max_length=255, blank=True)  # storage names
    thumbnail = models.CharField(max_length=255, blank=True)
    last_frame = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    processing_time = models.FloatField(null=True, blank=True)  # seconds from start of work to stored file
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_detail = models.TextField(blank=True)  # the vendor's raw text, for operators (admin, logs), never the API
    attempts = models.PositiveSmallIntegerField(default=0)  # vendor calls retried in the current step
    # The models this video was failed over from, oldest first: [{"model", "vendor", "error_code", "at"}].
    # Its length numbers the current attempt's ledger keys (videos.services.failover.charge_key).
    previous_attempts = models.JSONField(default=list, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A redelivered "make the next video" message cannot create a second video for the same slot.
            models.UniqueConstraint(fields=["session", "sequence"], name="one_video_per_session_slot"),
        ]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class VendorState(models.Model):
    """What we learned about one vendor's account from its answers: the auth state that can take its models
    off sale (repeated 401/403), and the last error. Written by services.vendor_state, read by videos.health."""

    class Auth(models.TextChoices):
        OK = "ok"
        FAILING = "failing"  # some consecutive authentication failures, below the threshold
        DISABLED = "disabled"  # its models refuse new jobs until an operator or the probe re-enables it

    vendor = models.CharField(max_length=16, unique=True)
    auth_state = models.CharField(max_length=10, choices=Auth.choices, default=Auth.OK)
    auth_failures = models.PositiveIntegerField(default=0)  # consecutive; a successful call resets it
    last_error_class = models.CharField(max_length=40, blank=True)  # our code (auth, vendor_unavailable…)
    last_error_detail = models.TextField(blank=True)  # the vendor's raw text: operators only
    last_error_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    probe_at = models.DateTimeField(null=True, blank=True)  # the last probe of a disabled vendor's key
    probe_result = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vendor"]
        verbose_name = "vendor health"
        verbose_name_plural = "vendor health"

    def __str__(self) -> str:
        return self.vendor
