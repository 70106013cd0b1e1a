"""Structured logs: one JSON object a line (or readable text for `make run`), with the request id and any
fields bound for the current request or task, plus whatever a call passes in `extra={...}`.

    log.info("video.transition", extra={"video_id": v.public_id, "session_id": ..., "vendor": ..., "attempt": 2})

Secrets never reach the output: every formatted line is scrubbed of API keys (`mcp_…`), bearer tokens,
signed-link signatures and the secret values in settings (vendor keys, SECRET_KEY, METRICS_TOKEN, S3 keys).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.core.signals import setting_changed

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_bound: ContextVar[dict[str, Any] | None] = ContextVar("log_fields", default=None)

# Attributes every LogRecord has: anything else on a record came from `extra=` (or our filter).
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}

_PATTERNS = [
    (re.compile(r"mcp_[A-Za-z0-9]{12,}"), "mcp_[redacted]"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[redacted]"),
    (re.compile(r"(?i)(x-api-key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"), r"\1[redacted]"),
    (re.compile(r"(?i)((?:x-amz-)?signature=)[0-9a-zA-Z%]{16,}"), r"\1[redacted]"),
]


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` (video_id, session_id, vendor, attempt...) to every log line inside the block."""
    token = _bound.set({**(_bound.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def bound() -> dict[str, Any]:
    return dict(_bound.get() or {})


# A secret this long is redacted wherever it appears, even inside a word; a shorter one (a weak SECRET_KEY such as
# "x", a short token) only where it stands alone, so ordinary words that contain it ("expires") stay readable.
ANYWHERE = 8


@lru_cache(maxsize=1)
def _secret_values() -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """The secret values in settings: (those redacted anywhere, longest first; a pattern for the short ones)."""
    from django.conf import settings

    values = [getattr(settings, "SECRET_KEY", ""), getattr(settings, "METRICS_TOKEN", "")]
    values += [str(getattr(settings, "AWS_SECRET_ACCESS_KEY", "") or "")]
    for config in getattr(settings, "PROVIDER_SETTINGS", {}).values():
        values += [str(config.get(k) or "") for k in ("api_key", "secret_key")]
    values = sorted({v for v in values if v.strip()}, key=len, reverse=True)
    short = [v for v in values if len(v) < ANYWHERE]
    alone = None
    if short:  # not preceded or followed by a letter or digit (JSON escapes and punctuation are boundaries)
        alone = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, short)) + r")(?![A-Za-z0-9])")
    return tuple(v for v in values if len(v) >= ANYWHERE), alone


def _forget_secrets(**_: Any) -> None:
    _secret_values.cache_clear()


setting_changed.connect(_forget_secrets, dispatch_uid="dashboard.logs.secrets")


def _secrets() -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    try:
        return _secret_values()
    except Exception:  # settings not configured (a library logging before Django is set up)
        return (), None


def scrub(text: str, *, short: bool = True) -> str:
    """`text` with every secret we know of, or recognise by shape, replaced by [redacted]. `short=False`: leave
    the short secrets to the caller (JsonFormatter redacts them in the values only, never in the keys)."""
    secrets, alone = _secrets()
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    if alone is not None and short:
        text = alone.sub("[redacted]", text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _values_scrubbed(value: Any, alone: re.Pattern[str]) -> Any:
    """A JSON value with the short secrets redacted in its strings (the keys of objects kept as they are)."""
    if isinstance(value, str):
        return alone.sub("[redacted]", value)
    if isinstance(value, dict):
        return {k: _values_scrubbed(v, alone) for k, v in value.items()}
    if isinstance(value, list):
        return [_values_scrubbed(v, alone) for v in value]
    return value


class ContextFilter(logging.Filter):
    """Put the request id and the bound fields on each record (explicit `extra=` fields win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None and (rid := request_id.get()):
            record.request_id = rid
        for key, value in (_bound.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "event", ...extra fields, "exc"} on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in _fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        _, alone = _secrets()
        if alone is not None:  # a short secret may be a word of the line's own keys ("level"): values only
            entry = _values_scrubbed(json.loads(json.dumps(entry, default=str, ensure_ascii=False)), alone)
        return scrub(json.dumps(entry, default=str, ensure_ascii=False), short=False)


class PlainFormatter(logging.Formatter):
    """Readable lines for a terminal: the classic format, then key=value for the extra fields."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        if extra:
            head, sep, tail = line.partition("\n")
            line = f"{head} [{extra}]{sep}{tail}"
        return scrub(line)


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """The LOGGING dict: one stderr handler, JSON or plain, with the context filter."""
    formatter = "json" if fmt == "json" else "plain"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"json": {"()": JsonFormatter}, "plain": {"()": PlainFormatter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": formatter, "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Our middleware logs every request with its route and id; Django's own 4xx/5xx lines would repeat it.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
        },
    }


def celery_task_context() -> None:
    """Celery: a task sent while handling a request carries its request id (a message header), and every log
    line of a task has task_id / task (and that request_id). Connected by dashboard.celery."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    tokens: dict[str, Any] = {}

    @before_task_publish.connect(weak=False)
    def _publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        rid = request_id.get() or (_bound.get() or {}).get("request_id")
        if rid and headers is not None:
            headers.setdefault("request_id", rid)

    @task_prerun.connect(weak=False)
    def _enter(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        if task_id:
            fields = {"task_id": task_id, "task": getattr(task, "name", "")}
            if rid := getattr(getattr(task, "request", None), "request_id", None):
                fields["request_id"] = rid
            tokens[task_id] = _bound.set({**(_bound.get() or {}), **fields})

    @task_postrun.connect(weak=False)
    def _leave(task_id: str | None = None, **_: Any) -> None:
        token = tokens.pop(task_id or "", None)
        if token is not None:
            try:
                _bound.reset(token)
            except ValueError:  # a different context (threads pool): clear instead
                _bound.set(None)
