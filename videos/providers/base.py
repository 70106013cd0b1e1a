"""The provider interface and the HTTP plumbing every vendor adapter shares.

A provider turns one Job (our normalised request for one video) into a video file:
`submit(job) -> vendor task id`, `poll(task_id, job) -> JobStatus`, `download(status, job, dest)`.
Vendor modules only translate payloads; HTTP, auth headers, timeouts, error mapping and secret scrubbing
live here once. The local renderer is `synchronous`: it makes the file in `generate()` instead.
"""

from __future__ import annotations

import base64
import email.utils
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, NoReturn
from urllib.parse import urlsplit

import requests
from django.conf import settings


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

    def is_configured(self) -> bool:
        return False

    def check(self, job: Job) -> None:
        """Raise InvalidJob for a parameter the vendor cannot honour. No I/O: runs on the request path."""

    def submit(self, job: Job) -> str:
        raise NotImplementedError

    def poll(self, task_id: str, job: Job) -> JobStatus:
        raise NotImplementedError

    def download(self, status: JobStatus, job: Job, dest: IO[bytes]) -> None:
        raise NotImplementedError

    def generate(self, job: Job, out_dir: str) -> LocalResult:
        raise NotImplementedError


MAX_RESULT_BYTES = 2 * 1024**3
MAX_REDIRECTS = 5


class HttpProvider(Provider):
    """Shared HTTP for vendors: one requests.Session, explicit timeouts, error mapping, no secrets in errors.

    A vendor module sets `name`, `default_base_url`, `poll_interval`, `options` (the spec's provider-specific
    fields it honours) and `states` (every vendor status -> ours), and writes check/submit/poll as single
    requests: no sleeping, no loops; the caller reschedules polls.
    """

    default_base_url: ClassVar[str] = ""
    timeout: ClassVar[float | tuple[float, float]] = (10.0, 60.0)
    download_timeout: ClassVar[tuple[float, float]] = (10.0, 120.0)
    options: ClassVar[frozenset[str]] = frozenset()  # Job.options keys this vendor can honour
    states: ClassVar[dict[str, str]] = {}  # vendor status -> JobStatus state
    key_on_result_host: ClassVar[bool] = False  # results on the vendor host need our key (Veo, Sora)
    images_by_url: ClassVar[bool] = False  # the vendor fetches images from our storage (no inline bytes)

    def __init__(self) -> None:
        self.config: dict[str, Any] = settings.PROVIDER_SETTINGS.get(self.name, {})
        self.base_url = (self.config.get("base_url") or self.default_base_url).rstrip("/")
        if self.config.get("poll_interval"):
            self.poll_interval = float(self.config["poll_interval"])
        self.http = requests.Session()
        self.http.trust_env = False  # never route vendor traffic through an ambient proxy

    # --- what vendors override -------------------------------------------------------------------
    def is_configured(self) -> bool:
        return bool(self.config.get("api_key"))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.get('api_key', '')}"}

    def error_message(self, response: requests.Response) -> tuple[str, str]:
        """(message, our error code) from a vendor error body. Vendors refine this."""
        return body_message(response), VENDOR_ERROR

    def download_headers(self, status: JobStatus, job: Job) -> dict[str, str]:
        """Auth for the result download: our key only for vendors that need it (`key_on_result_host`) and
        only on the configured vendor host; presigned CDN URLs never get it."""
        if self.key_on_result_host and status.result_url and self.same_origin(status.result_url):
            return self.headers()
        return {}

    def check(self, job: Job) -> None:
        """Refuse provider-specific options this vendor has no way to honour (never drop them silently)."""
        for option, value in job.options.items():
            if value is not None and option not in self.options:
                refuse(f"{self.name} models do not take {option}", field=option)

    # --- helpers for vendor modules ----------------------------------------------------------------
    def recheck(self, job: Job) -> None:
        """check() again at submit time (a queued job may predate a catalog change), plus what only exists
        then: the stored images' URLs (at check() time, on the request path, nothing is stored yet). A refusal
        here is a permanent invalid_parameter failure of the video, not an exception the task does not expect."""
        try:
            self.check(job)
            if self.images_by_url:
                self.require_urls(job)
        except InvalidJob as e:
            raise ProviderError(f"{self.name}: {e.message} ({e.field})", code=INVALID_PARAMETER) from None

    def state(self, vendor_status: str) -> str:
        """Our state for a vendor status. An unknown one counts as processing: the deadline sweep ends it."""
        return self.states.get(vendor_status, JobStatus.PROCESSING)

    def status_from(self, vendor_status: str, *, result_url: Callable[[], str],
                    failure: Callable[[], tuple[str, str]], progress: int | None = None) -> JobStatus:
        """The JobStatus for one poll answer, through `states`. Only a completed task asks `result_url()`
        (which may fetch: MiniMax files, fal results; a permanent error there fails the video) and only a
        failed one asks `failure()` -> (the vendor's reason, our code); the reason comes out scrubbed."""
        state = self.state(vendor_status)
        if state == JobStatus.COMPLETED:
            try:
                url = result_url()
            except ProviderUnavailable:
                raise
            except ProviderError as e:
                return JobStatus.failed(e.message, code=e.code, vendor_status=vendor_status)
            return JobStatus(state=state, progress=100, vendor_status=vendor_status, result_url=url)
        if state == JobStatus.FAILED:
            reason, code = failure()
            return JobStatus.failed(self.scrub(reason or f"{self.name} reported {vendor_status}"),
                                    code=code or VENDOR_ERROR, vendor_status=vendor_status)
        return JobStatus(state=state, vendor_status=vendor_status, progress=progress)

    def moderation_or(self, reason: str, code: str = VENDOR_ERROR) -> tuple[str, str]:
        """(reason, moderation) when the words say so (vendors without a moderation code), else (reason, code)."""
        return reason, MODERATION if looks_like_moderation(reason) else code

    def require_urls(self, job: Job) -> None:
        """URL-only vendors (`images_by_url`: Luma, Runway, fal, Sora here) need the hosted copy of each image."""
        for field, img in (("head_image", job.head_image), ("tail_image", job.tail_image)):
            if img is not None and not img.url:
                refuse(f"{self.name} takes images by URL and this one has none", field=field)

    def same_origin(self, url: str) -> bool:
        """True when `url` points at the configured vendor host (where our key may be sent)."""
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    # --- shared machinery ------------------------------------------------------------------------
    def secrets(self) -> list[str]:
        return [str(v) for k, v in self.config.items() if k in {"api_key", "secret_key"} and v]

    def scrub(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "[redacted]")
        return text

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request. 429/5xx/timeouts raise ProviderUnavailable, other 4xx ProviderError."""
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        try:
            response = self.http.request(method, self.url(path), headers=headers,
                                         timeout=kwargs.pop("timeout", self.timeout), **kwargs)
        except requests.RequestException as e:
            maybe = method.upper() == "POST" and isinstance(e, requests.ReadTimeout)
            raise ProviderUnavailable(self.scrub(f"{self.name}: {type(e).__name__}"), maybe_submitted=maybe) from None
        self.raise_for_status(response)
        return response

    def raise_for_status(self, response: requests.Response) -> None:
        """4xx -> ProviderError, 429/5xx -> ProviderUnavailable, unless the vendor's own code says otherwise."""
        if response.status_code < 400:
            return
        message, code = self.error_message(response)
        self.fail(f"HTTP {response.status_code}: {message}", code=code,
                  retryable=response.status_code == 429 or response.status_code >= 500,
                  retry_after=retry_after(response))

    def fail(self, message: str, *, code: str = VENDOR_ERROR, retryable: bool = False,
             retry_after: float | None = None) -> NoReturn:
        """Raise the right exception for a vendor error, scrubbed. A permanent code beats a retryable status;
        code vendor_unavailable is retryable whatever the status (MiniMax reports rate limits in HTTP 200)."""
        message = self.scrub(f"{self.name} {message}")[:500]
        if code == VENDOR_UNAVAILABLE or (retryable and code not in PERMANENT):
            raise ProviderUnavailable(message, retry_after=retry_after)
        raise ProviderError(message, code=code or VENDOR_ERROR)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            # A garbled 200 (an HTML error page from a proxy, a cut connection) is worth another try.
            raise ProviderUnavailable(f"{self.name}: malformed response body",
                                      maybe_submitted=method.upper() == "POST") from None

    def dig(self, body: Any, *path: str | int) -> Any:
        return dig(body, *path, vendor=self.name)

    def download(self, status: JobStatus, job: Job, dest: IO[bytes]) -> None:
        """Stream the result into `dest`. An expired or missing result is a permanent failure.

        Redirects are followed by hand: requests keeps custom headers such as x-goog-api-key on a redirect
        to another host, and our key must not reach a CDN. Not atomic: after ProviderUnavailable the
        caller truncates `dest` before retrying.
        """
        if not status.result_url:
            raise ProviderError(f"{self.name}: the vendor reported success without a result", code=VENDOR_ERROR)
        url, headers = status.result_url, self.download_headers(status, job)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                with self.http.get(url, headers=headers, stream=True, timeout=self.download_timeout,
                                   allow_redirects=False) as r:
                    if r.is_redirect and r.headers.get("Location"):
                        next_url = requests.compat.urljoin(url, r.headers["Location"])
                        if urlsplit(next_url)[:2] != urlsplit(url)[:2]:
                            headers = {}  # another host: presigned, no key
                        url = next_url
                        continue
                    self._save(r, dest)
                    return
        except requests.RequestException as e:
            raise ProviderUnavailable(self.scrub(f"{self.name}: download failed ({type(e).__name__})")) from None
        raise ProviderError(f"{self.name}: too many redirects fetching the result", code=VENDOR_ERROR)

    def _save(self, r: requests.Response, dest: IO[bytes]) -> None:
        if r.status_code in (401, 403, 404, 410):
            raise ProviderError(f"{self.name}: result no longer available (HTTP {r.status_code})",
                                code=RESULT_EXPIRED)
        self.raise_for_status(r)
        total = 0
        for chunk in r.iter_content(1024 * 256):
            total += len(chunk)
            if total > MAX_RESULT_BYTES:
                raise ProviderError(f"{self.name}: result larger than allowed", code=VENDOR_ERROR)
            dest.write(chunk)


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def body_message(response: requests.Response) -> str:
    """The human part of a vendor error body: message/error/detail/msg, else the start of the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason or ""
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail")
            if value:
                return str(value)[:300]
    return str(body)[:200]


_body_message = body_message  # the original private name
