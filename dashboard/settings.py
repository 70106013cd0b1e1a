"""Settings for the video generation service, all driven by the environment (see .env.example)."""

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from dashboard.env import env_bool, env_float, env_int, env_list, env_str, load_env_file, local_secret_key
from dashboard.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
load_env_file(BASE_DIR / ".env")  # variables already in the environment win over the file
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()

DEBUG = env_bool("DEBUG", False)
_database_url = env_str("DATABASE_URL")
# A production deployment names its database; without one this is a local install (SQLite under DATA_DIR).
PRODUCTION = bool(_database_url) and not DEBUG
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DATABASE_URL is set and DEBUG is off (a production deployment): "
            "put a long random value in the environment or .env, e.g. "
            "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')")
    SECRET_KEY = local_secret_key(DATA_DIR)  # generated once into DATA_DIR/secret_key, then reused
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL").rstrip("/")
PORT = env_int("PORT", 8000, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "ninja",  # its packaged Swagger UI files: /api/v3/docs works offline
    "dashboard",
    "billing",
    "videos",
    "webhooks",
]

MIDDLEWARE = [
    "dashboard.middleware.ObservabilityMiddleware",  # first: request id, metrics and the log line cover it all
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite by default (zero setup), Postgres with DATABASE_URL -------------------------
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
            # The web process and the worker write at once: IMMEDIATE transactions plus a busy timeout
            # make them queue for the write lock instead of failing with "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: shared between web and worker (locks, rate limits) -------------------------------------
_redis_url = env_str("REDIS_URL")
if _redis_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Long-polls and live streams (videos/live.py, dashboard/live.py) --------------------------------
# Changes are published on LIVE_CHANNEL of this Redis (the cache's by default); without Redis, waiters re-read
# a small state tag every LIVE_POLL_SECONDS. LIVE_CHANNEL is global to the Redis server: prefix it per install.
LIVE_REDIS_URL = env_str("LIVE_REDIS_URL", _redis_url or "")
LIVE_CHANNEL = env_str("LIVE_CHANNEL", "mcphub:live")
LIVE_POLL_SECONDS = env_float("LIVE_POLL_SECONDS", 0.5, minimum=0.05)
LIVE_SAFETY_SECONDS = env_float("LIVE_SAFETY_SECONDS", 5.0, minimum=0.05)  # with Redis: a missed signal costs this
LIVE_HEARTBEAT_SECONDS = env_float("LIVE_HEARTBEAT_SECONDS", 15.0, minimum=0.05)  # SSE comment lines for proxies
LIVE_MAX_WAITERS = env_int("LIVE_MAX_WAITERS", 5000, minimum=1)  # per web process; past it: answer at once

# --- The poll cache (dashboard/fastpoll.py, dashboard/pollcache.py) --------------------------------------
# Settled session and video polls are answered from this Redis (the cache's by default) without Django or the
# database; empty: off (every poll goes to Django). Entries live FASTPOLL_TTL seconds at most.
FASTPOLL_REDIS_URL = env_str("FASTPOLL_REDIS_URL", _redis_url or "")
FASTPOLL_TTL = env_int("FASTPOLL_TTL", 60, minimum=1)
FASTPOLL_PREFIX = env_str("FASTPOLL_PREFIX", "mcphub:fp")  # per install, as LIVE_CHANNEL

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "videos:try"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Files -----------------------------------------------------------------------------------------
# A 10 MB image sent as a data URI is ~13.4 MB of JSON: admit it, refuse more with a 413 JSON error.
DATA_UPLOAD_MAX_MEMORY_SIZE = 15 * 1024 * 1024
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True  # `make run` serves static files without a collectstatic step
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/files/"
FILE_URL_TTL = env_int("FILE_URL_TTL", 24 * 3600, minimum=60)  # lifetime of signed video_url links

_s3_bucket = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY")  # also scrubbed from logs
if _s3_bucket:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _s3_bucket,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": AWS_SECRET_ACCESS_KEY or None,
            "querystring_auth": True,  # presigned, expiring URLs, like our own signed links
            "querystring_expire": FILE_URL_TTL,
            "file_overwrite": False,
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,  # "path" for MinIO and most servers
            "signature_version": "s3v4",
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Celery ------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    # Zero-setup broker: kombu's filesystem transport under the data dir, shared by web and worker.
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # broadcast (pidbox) messages; default is the cwd
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
SWEEP_INTERVAL = env_int("SWEEP_INTERVAL", 15, minimum=1)  # seconds between sweeps of due/stuck work
# A worker's claim on a video (render, submit, poll, store) lasts this long unless renewed; then the sweep
# hands the video to another worker. Longer than one vendor request (10 s connect + 60 s read).
VIDEO_LEASE_SECONDS = env_int("VIDEO_LEASE_SECONDS", 90, minimum=2)
VENDOR_PROBE_INTERVAL = env_int("VENDOR_PROBE_INTERVAL", 300, minimum=10)  # seconds between key probes
VENDOR_AUTH_FAILURES_TO_DISABLE = env_int("VENDOR_AUTH_FAILURES_TO_DISABLE", 3, minimum=1)  # 401s in a row
CELERY_BEAT_SCHEDULE = {
    "sessions-tick-due": {"task": "videos.tasks.sessions_tick_due_task", "schedule": float(SWEEP_INTERVAL)},
    "videos-poll-due": {"task": "videos.tasks.videos_poll_due_task", "schedule": float(SWEEP_INTERVAL)},
    "videos-reap": {"task": "videos.tasks.videos_reap_task", "schedule": 60.0},
    # Vendors disabled after repeated 401s: one authenticated call each, re-enabled when the key works again.
    "vendors-probe": {"task": "videos.tasks.vendors_probe_task", "schedule": float(VENDOR_PROBE_INTERVAL)},
}

# --- Product settings ---------------------------------------------------------------------------
IMAGE_FETCH_ALLOW_HOSTS = [h.lower() for h in env_list("IMAGE_FETCH_ALLOW_HOSTS")]
# Webhooks: one allow-list for every user-chosen URL (OUTBOUND_ALLOW_HOSTS; the image name still counts too).
OUTBOUND_ALLOW_HOSTS = [h.lower() for h in env_list("OUTBOUND_ALLOW_HOSTS")]
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10, minimum=1)  # seconds per connect/read; 2x for a whole attempt
CELERY_BEAT_SCHEDULE["webhooks-due"] = {"task": "webhooks.tasks.deliveries_due_task", "schedule": 30.0}
# Webhook tasks get their own queue: a worker without -Q consumes both; a deployment may give it its own worker.
CELERY_TASK_QUEUES: tuple[Queue, ...] = (Queue("celery"), Queue("webhooks"))
CELERY_TASK_ROUTES = {"webhooks.tasks.*": {"queue": "webhooks"}}
# Timed sessions: `manage.py ticksessions` claims due sessions in batches of this many (videos.services.schedule);
# its fallback sweep and the sweep of old countdown messages run on a queue of their own, never behind renders.
SESSIONS_TICK_BATCH = env_int("SESSIONS_TICK_BATCH", 200, minimum=1)
CELERY_TASK_QUEUES += (Queue("sessions"),)
CELERY_TASK_ROUTES["videos.tasks.session_tick_task"] = {"queue": "sessions"}
CELERY_TASK_ROUTES["videos.tasks.sessions_tick_due_task"] = {"queue": "sessions"}
SIMULATE_MISSING_PROVIDERS = env_bool("SIMULATE_MISSING_PROVIDERS", True)
RATE_LIMIT_PER_MINUTE = env_int("RATE_LIMIT_PER_MINUTE", 60, minimum=0)  # generate/session creations per key
VIDEO_DEADLINE_SECONDS = env_int("VIDEO_DEADLINE_SECONDS", 30 * 60, minimum=30)  # then failed + refunded

VENDORS = ("minimax", "luma", "runway", "kling", "veo", "sora", "wan", "pika")


def _env_seconds(name: str) -> float | None:
    """A positive number of seconds from the environment, or None when unset."""
    raw = env_str(name).strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ImproperlyConfigured(f"{name} must be more than 0, got {raw!r}")
    return value


PROVIDER_SETTINGS: dict[str, dict[str, Any]] = {
    name: {
        "api_key": env_str(f"{name.upper()}_API_KEY"),
        "base_url": env_str(f"{name.upper()}_BASE_URL").rstrip("/"),
        "max_concurrent": env_int(f"{name.upper()}_MAX_CONCURRENT", 5, minimum=1),
        "poll_interval": _env_seconds(f"{name.upper()}_POLL_INTERVAL"),  # None: the adapter's own interval
        # Status requests at once from one poller (services.poller), each on a kept-alive connection.
        "poll_concurrency": env_int(f"{name.upper()}_POLL_CONCURRENCY", 32, minimum=1),
    }
    for name in VENDORS
}
# Every `celery worker` starts one vendor poller process beside it (`manage.py pollvendors`); a deployment that
# runs pollers of its own (docker-compose's `poller`) turns this off for its workers.
POLLER_IN_WORKER = env_bool("POLLER_IN_WORKER", True)
PROVIDER_SETTINGS["kling"]["api_key"] = env_str("KLING_ACCESS_KEY")
PROVIDER_SETTINGS["kling"]["secret_key"] = env_str("KLING_SECRET_KEY")

# --- Security ------------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)  # a local install is served over plain HTTP
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Logs, metrics, health ------------------------------------------------------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "plain").strip().lower()
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, got {LOG_FORMAT!r}")
LOGGING = logging_config(fmt=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO").upper())
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING too (JSON, request/task context)
METRICS_TOKEN = env_str("METRICS_TOKEN")  # /metrics for non-loopback clients: Authorization: Bearer <token>
SWEEP_STALE_SECONDS = env_int("SWEEP_STALE_SECONDS", max(120, 4 * SWEEP_INTERVAL), minimum=1)
# The long-running processes (ticksessions, pollvendors) record a heartbeat in the shared cache every
# HEARTBEAT_INTERVAL seconds (dashboard.heartbeat); one older than HEARTBEAT_STALE_SECONDS is gone.
HEARTBEAT_INTERVAL = env_float("HEARTBEAT_INTERVAL", 5.0, minimum=0.05)
HEARTBEAT_STALE_SECONDS = env_float("HEARTBEAT_STALE_SECONDS", max(30.0, 6 * HEARTBEAT_INTERVAL), minimum=0.1)
# /readyz fails when the most overdue due session (vendor poll) is later than this, read from the database, and
# no scheduler (poller) that covers it has a fresh heartbeat. Without one the sweeps still tick sessions more
# than SWEEP_INTERVAL overdue (poll jobs more than 2 x SWEEP_INTERVAL), so the limits sit above that.
SESSIONS_LAG_LIMIT = env_float("SESSIONS_LAG_LIMIT", max(60.0, 4 * SWEEP_INTERVAL), minimum=0.1)
VENDOR_POLL_LAG_LIMIT = env_float("VENDOR_POLL_LAG_LIMIT", max(120.0, 8 * SWEEP_INTERVAL), minimum=0.1)
# false: no `ticksessions` (`pollvendors`) process is run here, the sweeps alone do the work; /readyz still shows
# the lag but does not fail for want of one.
SESSIONS_SCHEDULER_EXPECTED = env_bool("SESSIONS_SCHEDULER_EXPECTED", True)
VENDOR_POLLER_EXPECTED = env_bool("VENDOR_POLLER_EXPECTED", True)
