"""The provider interface: errors, our error codes, Job / JobStatus and the translation helpers.

A provider turns one Job (our normalised request for one video) into a video file:
`submit(job) -> vendor task id`, `poll(task_id, job) -> JobStatus`, `download(status, job, dest)`.
Vendor modules only translate payloads; the HTTP plumbing they share is `videos.providers.http`.
The local renderer is `synchronous`: it makes the file in `generate()` instead.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, NoReturn


class ProviderError(Exception):
    """The vendor refused or failed the job: do not retry. `code` is ours (moderation, insufficient_balance…)."""

    def __init__(self, message: str, *, code: str = "vendor_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProviderUnavailable(ProviderError):
    """A timeout, 429 or 5xx: safe to retry later, after `retry_after` seconds when the vendor said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, code: str = "vendor_unavailable",
                 maybe_submitted: bool = False) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        # A create request that timed out reading the answer (or got a garbled 2xx) may have reached the
        # vendor: the caller must not send it again.
        self.maybe_submitted = maybe_submitted


class InvalidJob(Exception):
    """The vendor cannot honour a parameter. Raised by `check()` before anything is charged (a 400)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# Our error codes (Video.error_code). A vendor code that maps to one of PERMANENT wins over the HTTP
# status: Kling answers "resource pack depleted" and OpenAI "insufficient_quota" with a 429, which must
# fail the video (and refund it) instead of retrying forever.
MODERATION = "moderation"
INSUFFICIENT_BALANCE = "insufficient_balance"
INVALID_PARAMETER = "invalid_parameter"
VENDOR_ERROR = "vendor_error"
RESULT_EXPIRED = "result_expired"
VENDOR_UNAVAILABLE = "vendor_unavailable"
PERMANENT = {MODERATION, INSUFFICIENT_BALANCE, INVALID_PARAMETER, RESULT_EXPIRED}

_MODERATION_WORDS = ("moderation", "safety", "sensitive", "nsfw", "content policy", "content_policy",
                     "risk control", "inappropriate", "prohibited")


def looks_like_moderation(text: str) -> bool:
    """Vendors without a moderation code (Luma, Kling task messages, fal) say so in words."""
    lowered = text.lower()
    return any(word in lowered for word in _MODERATION_WORDS)


def refuse(message: str, *, field: str) -> NoReturn:
    raise InvalidJob(message, field=field)


def choose(value: Any, allowed: Mapping[Any, Any] | Collection[Any], *, field: str, what: str) -> Any:
    """`value` translated through `allowed` (a mapping) or checked against it (a collection); else InvalidJob."""
    if value not in allowed:
        options = ", ".join(str(a) for a in allowed)
        refuse(f"{what} does not accept {field}={value!r} (allowed: {options})", field=field)
    return allowed[value] if isinstance(allowed, Mapping) else value


def find(body: Any, *path: str | int) -> Any:
    """body[path0][path1]…, or None where a step is missing (for optional fields and fallback shapes)."""
    value = body
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def dig(body: Any, *path: str | int, vendor: str = "vendor") -> Any:
    """body[path0][path1]…; a missing step is a malformed answer (retryable, like a garbled proxy page)."""
    value = find(body, *path)
    if value is None:
        raise ProviderUnavailable(f"{vendor}: malformed response (no {'.'.join(str(p) for p in path)})")
    return value


@dataclass(frozen=True)
class InputImage:
    """An accepted head/tail image: our stored copy, reachable at `url` (absolute, signed)."""

    data: bytes
    content_type: str
    width: int
    height: int
    url: str = ""

    def data_uri(self) -> str:
        return f"data:{self.content_type};base64,{self.base64()}"

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


def _noop_progress(_: int) -> None:
    return None


def _never_cancelled() -> bool:
    return False


@dataclass
class Job:
    """One video to make, in our terms (the spec's parameter names, already validated)."""

    video_id: str
    prompt: str
    model_id: str
    vendor_model: str
    type: str  # t2v | i2v | kf2v (the catalog model's type)
    duration: int
    resolution: str  # "768p", "1080p", "4k"
    aspect_ratio: str  # "16:9"
    width: int
    height: int
    frame_rate: int = 24
    seed: int | None = None
    strategy: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # promptOptimizer, generateAudio, strength, wanAudio
    head_image: InputImage | None = None
    tail_image: InputImage | None = None
    progress: Callable[[int], None] = _noop_progress
    cancelled: Callable[[], bool] = _never_cancelled


@dataclass
class JobStatus:
    state: str  # pending | processing | completed | failed
    progress: int | None = None
    vendor_status: str = ""
    result_url: str | None = None
    error: str = ""
    error_code: str = ""
    poll_after: float | None = None  # seconds the vendor asked us to wait

    PENDING: ClassVar[str] = "pending"
    PROCESSING: ClassVar[str] = "processing"
    COMPLETED: ClassVar[str] = "completed"
    FAILED: ClassVar[str] = "failed"

    @classmethod
    def failed(cls, error: str, *, code: str = VENDOR_ERROR, vendor_status: str = "") -> JobStatus:
        return cls(state=cls.FAILED, vendor_status=vendor_status, error=error[:500] or "failed", error_code=code)

    @property
    def is_final(self) -> bool:
        return self.state in (self.COMPLETED, self.FAILED)


@dataclass
class LocalResult:
    video_path: str
    thumbnail_path: str
    last_frame_path: str


class Provider:
    """What every provider offers. Vendor adapters subclass HttpProvider."""

    name: ClassVar[str] = ""
    synchronous: ClassVar[bool] = False  # True: generate() makes the file in-process (the local renderer)
    poll_interval: float = 5.0  # seconds between polls of one vendor task (<VENDOR>_POLL_INTERVAL overrides)
    cancellable: ClassVar[bool] = False  # the vendor's protocol has a cancel call (see cancel())

    def is_configured(self) -> bool:
        return False

    def check(self, job: Job) -> None:
        """Raise InvalidJob for a parameter the vendor cannot honour. No I/O: runs on the request path."""

    def submit(self, job: Job) -> str:
        raise NotImplementedError

    def poll(self, task_id: str, job: Job) -> JobStatus:
        """One status request. `job` carries no images here (they are read from storage only to submit)."""
        raise NotImplementedError

    def download(self, status: JobStatus, job: Job, dest: IO[bytes]) -> None:
        raise NotImplementedError

    def cancel(self, vendor_task_id: str, job: Job) -> bool:
        """Ask the vendor to stop a task in flight (a stopped session's video). True when the vendor took the
        request; False when its protocol has no cancel call (the task is left to finish) or the task is
        already over. A vendor failure raises ProviderError / ProviderUnavailable like any other call."""
        return False

    def generate(self, job: Job, out_dir: str) -> LocalResult:
        raise NotImplementedError
