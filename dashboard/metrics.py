"""Prometheus metrics at /metrics.

- HTTP requests by route (the resolved URL pattern, never the raw path) and status, with latency histograms:
  counted by `ObservabilityMiddleware` in each web process. Under gunicorn these use prometheus_client's
  multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by dashboard/gunicorn.conf.py) so every worker counts.
- Everything about the work is read at scrape time from where it is decided, so it is right whatever the
  number of web and worker processes: videos by vendor/status/error code, sessions, vendor in-flight against
  its cap and credits charged/refunded (the database), queue depths (the broker), sweep ages and vendor
  request latency (the shared cache, written by the workers).
- The session scheduler's and vendor poller's lag (how late the most overdue due session / status poll is, and
  how many are due: one aggregate query each, from the database) and their processes' heartbeats (the cache).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterable, Iterator


from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("mcphub_http_requests", "HTTP requests answered, by route pattern and status.",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("mcphub_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
                         ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
# Long-polls and event streams held open now (dashboard.live), summed over the live web processes.
LIVE_WAITING = Gauge("mcphub_live_waiting", "Clients waiting now: long-polls and event streams.",
                     multiprocess_mode="livesum")

# Vendor request latency lives in the shared cache: workers observe it, the web process exposes it.
VENDOR_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, float("inf"))
VENDOR_METHODS = ("GET", "POST")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def _incr(key: str, delta: int) -> None:
    try:
        cache.incr(key, delta)
    except ValueError:  # not there yet
        if not cache.add(key, delta, None):
            cache.incr(key, delta)


def _incr_many(deltas: dict[str, int]) -> None:
    """Add to counters in the shared cache: one pipelined round trip on Redis (INCRBY creates missing keys,
    and Django's Redis cache stores integers as plain numbers, so cache.get_many reads them back)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        pipe = backend._cache.get_client(write=True).pipeline(transaction=False)
        for key, delta in deltas.items():
            pipe.incrby(backend.make_and_validate_key(key), delta)
        pipe.execute()
        return
    for key, delta in deltas.items():
        _incr(key, delta)


def vendor_request_observed(vendor: str, method: str, seconds: float) -> None:
    """One HTTP exchange with `vendor` took `seconds` (polls are GETs, submits POSTs). Never raises."""
    try:
        method = method.upper() if method.upper() in VENDOR_METHODS else "GET"
        bucket = next(i for i, bound in enumerate(VENDOR_BUCKETS) if seconds <= bound)
        prefix = f"ops:vlat:{vendor}:{method}"
        _incr_many({f"{prefix}:b{bucket}": 1, f"{prefix}:sum_us": int(seconds * 1_000_000)})
    except Exception:  # metrics never break a vendor call
        log.debug("vendor latency not recorded", exc_info=True)


def _vendor_latency() -> Iterator[Metric]:
    family = HistogramMetricFamily("mcphub_vendor_request_duration_seconds",
                                   "Time of one HTTP exchange with a vendor API (GET: status polls, POST: submits).",
                                   labels=["vendor", "method"])
    keys = [f"ops:vlat:{v}:{m}:{part}" for v in settings.VENDORS for m in VENDOR_METHODS
            for part in [*(f"b{i}" for i in range(len(VENDOR_BUCKETS))), "sum_us"]]
    found = cache.get_many(keys)
    for vendor in settings.VENDORS:
        for method in VENDOR_METHODS:
            prefix = f"ops:vlat:{vendor}:{method}"
            counts = [int(found.get(f"{prefix}:b{i}", 0)) for i in range(len(VENDOR_BUCKETS))]
            if not any(counts):
                continue
            cumulative, running = [], 0
            for bound, count in zip(VENDOR_BUCKETS, counts, strict=True):
                running += count
                cumulative.append(("+Inf" if bound == float("inf") else str(bound), running))
            family.add_metric([vendor, method], cumulative, int(found.get(f"{prefix}:sum_us", 0)) / 1_000_000)
    yield family


class StateCollector:
    """Reads the database, broker and cache at scrape time."""

    def collect(self) -> Iterator[Metric]:
        for part in (self._videos, self._credits, self._queues, self._sweeps, _vendor_latency, self._lag,
                     self._heartbeats):
            try:
                yield from part()
            except Exception:
                log.warning("metrics: %s could not be read", part.__name__, exc_info=True)

    @staticmethod
    def _videos() -> Iterable[Metric]:
        from videos.models import GenerationSession, Video

        videos = GaugeMetricFamily("mcphub_videos", "Videos by who makes them (vendor, or local), status and "
                                   "error code.", labels=["vendor", "status", "error_code"])
        in_flight: dict[str, int] = dict.fromkeys(settings.VENDORS, 0)
        rows = Video.objects.order_by().values("provider", "status", "error_code").annotate(n=Count("id"))
        for row in rows:
            videos.add_metric([row["provider"], row["status"], row["error_code"]], row["n"])
            if row["status"] == Video.Status.PROCESSING and row["provider"] in in_flight:
                in_flight[row["provider"]] += row["n"]
        yield videos
        flight = GaugeMetricFamily("mcphub_vendor_in_flight", "Videos at the vendor now (slots taken).",
                                   labels=["vendor"])
        cap = GaugeMetricFamily("mcphub_vendor_max_concurrent", "The vendor's concurrency cap "
                                "(<VENDOR>_MAX_CONCURRENT).", labels=["vendor"])
        for vendor in settings.VENDORS:
            flight.add_metric([vendor], in_flight[vendor])
            cap.add_metric([vendor], float(settings.PROVIDER_SETTINGS[vendor]["max_concurrent"]))
        yield flight
        yield cap
        sessions = GaugeMetricFamily("mcphub_sessions", "Generation sessions by kind and status.",
                                     labels=["kind", "status"])
        for kind, status, n in GenerationSession.objects.order_by().values_list("kind", "status").annotate(
                n=Count("id")):
            sessions.add_metric([kind, status], n)
        yield sessions

    @staticmethod
    def _credits() -> Iterable[Metric]:
        from billing.models import CreditEntry

        totals = {row["kind"]: abs(row["total"] or 0)
                  for row in CreditEntry.objects.order_by().values("kind").annotate(total=Sum("delta"))}
        for kind, word in (("charge", "charged"), ("refund", "refunded"), ("grant", "granted")):
            family = CounterMetricFamily(f"mcphub_credits_{word}", f"Credits {word}, from the ledger.")
            family.add_metric([], float(totals.get(kind, 0)))
            yield family

    @staticmethod
    def _queues() -> Iterable[Metric]:
        from dashboard.health import queue_depths

        up = GaugeMetricFamily("mcphub_broker_up", "1 when the task broker answered this scrape.")
        depth = GaugeMetricFamily("mcphub_queue_depth", "Task messages waiting at the broker.", labels=["queue"])
        try:
            depths = queue_depths()
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for name, count in depths.items():
            depth.add_metric([name], count)
        yield up
        yield depth

    @staticmethod
    def _sweeps() -> Iterable[Metric]:
        from dashboard.health import sweep_times

        age = GaugeMetricFamily("mcphub_sweep_age_seconds", "Seconds since each periodic sweep last ran.",
                                labels=["sweep"])
        now = time.time()
        for name, at in sweep_times().items():
            if at is not None:
                age.add_metric([name], max(0.0, now - at))
        yield age


    @staticmethod
    def _lag() -> Iterable[Metric]:
        from videos import backlog

        for overdue, lag_name, due_name, what in (
                (backlog.sessions_overdue(), "sessions_lag_seconds", "sessions_due", "timed sessions' next videos"),
                (backlog.polls_overdue(), "vendor_poll_lag_seconds", "vendor_polls_due", "vendor status polls")):
            lag = GaugeMetricFamily(f"mcphub_{lag_name}", f"Seconds the most overdue of the {what} is late "
                                    "(0: none due), read from the database.")
            lag.add_metric([], overdue.lag_seconds)
            yield lag
            due = GaugeMetricFamily(f"mcphub_{due_name}", f"How many {what} are due now.")
            due.add_metric([], overdue.due)
            yield due

    @staticmethod
    def _heartbeats() -> Iterable[Metric]:
        from dashboard import heartbeat

        alive = GaugeMetricFamily("mcphub_background_processes_alive", "Session schedulers (ticksessions) and "
                                  "vendor pollers (pollvendors) with a fresh heartbeat.", labels=["kind"])
        age = GaugeMetricFamily("mcphub_heartbeat_age_seconds", "Seconds since each scheduler/poller process last "
                                "recorded its heartbeat (listed for an hour after it stops).",
                                labels=["kind", "process", "partition"])
        now = time.time()
        for kind in heartbeat.KINDS:
            beats = heartbeat.beats(kind)
            alive.add_metric([kind], sum(b.alive(now) for b in beats))
            for b in beats:
                age.add_metric([kind, b.id, b.partition], b.age(now))
        yield alive
        yield age


class _ThisProcess:
    """The default registry (this process's HTTP counters, process and GC metrics) when not multiprocess."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())  # type: ignore[arg-type]
    registry.register(StateCollector())  # type: ignore[arg-type]
    return generate_latest(registry)


def _is_loopback(request: HttpRequest) -> bool:
    if any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP")):
        return False  # came through a proxy: the peer address says nothing about the client
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    return _is_loopback(request)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse("Method not allowed.", status=405, content_type="text/plain")
    if not allowed(request):
        return HttpResponse("Metrics are open to loopback clients, or with Authorization: Bearer $METRICS_TOKEN.",
                            status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.route or match.view_name or "unnamed") if match is not None else "unmatched"


def route_for_path(path: str) -> str:
    """The route label of `path` (its URL pattern), as route_of gives for a request Django resolved."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path)
    except Resolver404:
        return "unmatched"
    return match.route or match.view_name or "unnamed"


# Set in the ASGI scope of a request that dashboard.live serves (a long-poll, an event stream): it counts the request
# itself, once, with its whole duration, so the views it calls inside (maybe several times) do not count it again.
LIVE_SCOPE_KEY = "mcphub.live"


def http_record(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def http_observed(request: HttpRequest, status: int, seconds: float) -> str:
    """Count a request Django answered (unless dashboard.live counts it: LIVE_SCOPE_KEY); returns its route."""
    route = route_of(request)
    if not request.META.get("asgi.scope", {}).get(LIVE_SCOPE_KEY):
        http_record(request.method or "", route, status, seconds)
    return route


