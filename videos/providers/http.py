"""HTTP plumbing every vendor adapter shares: one requests.Session, explicit timeouts, error mapping,
secret scrubbing, Retry-After, and result downloads that carry the vendor key only to the vendor's host."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import IO, Any, ClassVar, NoReturn
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from django.conf import settings

from dashboard.metrics import vendor_request_observed
from videos.providers.base import (
    AUTH,
    INVALID_PARAMETER,
    MODERATION,
    PERMANENT,
    RESULT_EXPIRED,
    VENDOR_ERROR,
    VENDOR_UNAVAILABLE,
    InvalidJob,
    Job,
    JobStatus,
    Provider,
    ProviderError,
    ProviderUnavailable,
    dig,
    looks_like_moderation,
    refuse,
)

MAX_RESULT_BYTES = 2 * 1024**3
MAX_REDIRECTS = 5
# Kept-alive connections per host: get_provider() shares one provider (so one session) per vendor in a
# process, used by every thread of a worker at once. Past this many at once, extra connections are opened
# and closed (pool_block=False), never waited for.
POOL_CONNECTIONS = 32


def pooled_session() -> requests.Session:
    """A session whose connections to each host stay open between calls (keep-alive), shared by threads."""
    session = requests.Session()
    session.trust_env = False  # never route vendor traffic through an ambient proxy
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_CONNECTIONS, pool_block=False)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


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
        self.http = pooled_session()

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
        started = time.monotonic()
        try:
            response = self.http.request(method, self.url(path), headers=headers,
                                         timeout=kwargs.pop("timeout", self.timeout), **kwargs)
        except requests.RequestException as e:
            maybe = method.upper() == "POST" and isinstance(e, requests.ReadTimeout)
            raise ProviderUnavailable(self.scrub(f"{self.name}: {type(e).__name__}"), maybe_submitted=maybe) from None
        vendor_request_observed(self.name, method, time.monotonic() - started)  # /metrics: vendor latency
        self.raise_for_status(response)
        return response

    def raise_for_status(self, response: requests.Response) -> None:
        """4xx -> ProviderError, 429/5xx -> ProviderUnavailable, unless the vendor's own code says otherwise."""
        if response.status_code < 400:
            return
        message, code = self.error_message(response)
        if response.status_code == 401 and code == VENDOR_ERROR:
            # Our credentials, not the job: services.vendor_state counts these. A 403 stays vendor_error: at
            # Kling, DashScope and Google it is a plan or permission on one model, not a bad key.
            code = AUTH
        self.fail(f"HTTP {response.status_code}: {message}", code=code,
                  retryable=response.status_code == 429 or response.status_code >= 500,
                  retry_after=retry_after(response))

    def fail(self, message: str, *, code: str = VENDOR_ERROR, retryable: bool = False,
             retry_after: float | None = None) -> NoReturn:
        """Raise the right exception for a vendor error, scrubbed. A permanent code beats a retryable status;
        code vendor_unavailable is retryable whatever the status (MiniMax reports rate limits in HTTP 200).
        Scrubbed before it is shortened: a key cut by the truncation would escape the scrubber."""
        message = self.scrub(f"{self.name} {message}")[:500]
        if code == VENDOR_UNAVAILABLE or (retryable and code not in PERMANENT):
            raise ProviderUnavailable(message, retry_after=retry_after)
        raise ProviderError(message, code=code or VENDOR_ERROR)

    def cancel_request(self, method: str, path: str, *, done: tuple[int, ...] = (404, 409)) -> bool:
        """One cancel call: True when the vendor accepted it; False when it answers that the task is already
        over or gone (`done` statuses); other errors raise as usual."""
        headers = {**self.headers()}
        try:
            response = self.http.request(method, self.url(path), headers=headers, timeout=self.timeout)
        except requests.RequestException as e:
            raise ProviderUnavailable(self.scrub(f"{self.name}: cancel {type(e).__name__}")) from None
        if response.status_code in done:
            return False
        self.raise_for_status(response)
        return True

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
    """The human part of a vendor error body: message/error/detail/msg, else the text. Not shortened here:
    a secret cut in half by a truncation would no longer match the scrubber, so `fail()` scrubs first and
    truncates after."""
    try:
        body = response.json()
    except ValueError:
        return response.text or response.reason or ""
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail")
            if value:
                return str(value)
    return str(body)


