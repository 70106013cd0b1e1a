"""What an operator sees, end to end: a real Celery worker (with beat) makes a live-vendor video (a fake Luma on
127.0.0.1) with its media on a real S3 server (moto); /metrics, /readyz and the worker's JSON logs show it."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_key, make_user
from tests.fakevendors import FakeVendor, running
from tests.fakevendors.luma import FakeLuma
from tests.s3server import S3, moto_s3

pytestmark = pytest.mark.worker


@pytest.fixture
def s3(settings: Any) -> Iterator[S3]:
    with moto_s3() as server:
        server.use_in(settings)  # the web process (live_server) signs links for the same bucket
        yield server


@pytest.fixture
def luma(settings: Any, tmp_path: Path) -> Iterator[FakeVendor]:
    from videos.providers.render import RenderSpec, render

    for fake in running(FakeLuma, settings):
        out = tmp_path / "vendor.mp4"
        render(RenderSpec(prompt="vendor result ocean", width=320, height=180, duration=1.0), video_path=str(out),
               thumbnail_path=str(tmp_path / "t.jpg"), last_frame_path=str(tmp_path / "l.png"))
        fake.video = out.read_bytes()
        fake.script = ["queued", "running", "succeeded"]
        yield fake


@pytest.fixture
def worker_env(s3: S3, luma: FakeVendor) -> dict[str, str]:
    return {**s3.env, "LUMA_API_KEY": luma.api_key, "LUMA_BASE_URL": luma.base_url, "LUMA_POLL_INTERVAL": "0.5",
            "LOG_FORMAT": "json"}


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = requests.get(f"{base}/metrics", timeout=30)
    assert r.status_code == 200, r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_a_live_vendor_video_on_s3_shows_in_metrics_readyz_and_logs(
        celery_worker_process: str, s3: S3, luma: FakeVendor, tmp_path: Path) -> None:
    base = celery_worker_process
    user = make_user("ops-e2e", credits=1000)
    headers = {"X-API-Key": make_key(user)[1], "X-Request-ID": "e2e-request-1"}
    created = requests.post(f"{base}/api/v3/videos/generate", headers=headers, timeout=30,
                            json={"prompt": "a lighthouse at dusk", "model": "luma-ray-2.0-flash-5s-t2v"})
    assert created.status_code == 201, created.text
    assert created.headers["X-Request-ID"] == "e2e-request-1"
    video_id = created.json()["video_id"]
    deadline = time.monotonic() + 120
    while True:
        video = requests.get(f"{base}/api/v3/videos/{video_id}", headers=headers, timeout=30).json()
        video = video.get("video", video)
        if video["status"] in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert video["status"] == "completed", video
    assert video["video_url"].startswith(s3.endpoint)  # presigned by S3, served by the S3 server
    with av.open(io.BytesIO(requests.get(video["video_url"], timeout=60).content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert any(k.endswith(".mp4") for k in s3.keys())

    samples: dict = {}
    while time.monotonic() < deadline:  # the beat's sweeps land within a few seconds
        samples = scrape(base)
        if ("mcphub_sweep_age_seconds", (("sweep", "videos_poll_due"),)) in samples:
            break
        time.sleep(1)
    assert samples[("mcphub_videos", (("error_code", ""), ("status", "completed"), ("vendor", "luma")))] == 1
    assert samples[("mcphub_credits_charged_total", ())] == created.json()["credits_used"]
    assert samples[("mcphub_vendor_in_flight", (("vendor", "luma"),))] == 0
    # Latency observed in the worker process, exposed by the web process (through the shared cache).
    assert samples[("mcphub_vendor_request_duration_seconds_count", (("method", "POST"), ("vendor", "luma")))] == 1
    assert samples[("mcphub_vendor_request_duration_seconds_count", (("method", "GET"), ("vendor", "luma")))] >= 3
    assert ("mcphub_sweep_age_seconds", (("sweep", "videos_poll_due"),)) in samples
    assert ("mcphub_queue_depth", (("queue", "celery"),)) in samples
    ready = requests.get(f"{base}/readyz", timeout=30)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["storage"]["backend"] == "s3"

    lines = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()
             if line.startswith("{")]
    assert lines, (tmp_path / "worker.log").read_text()[-2000:]
    assert any(line.get("task", "").endswith("video_fetch_task") and line.get("task_id") for line in lines)
    # The start task was sent by the API request: its lines carry that request's id.
    assert any(line.get("task", "").endswith("video_start_task") and line.get("request_id") == "e2e-request-1"
               for line in lines), [line for line in lines if "start" in line.get("task", "")][:3]
    output = (tmp_path / "worker.log").read_text()
    assert luma.api_key not in output and headers["X-API-Key"] not in output


def test_gunicorn_workers_share_their_http_metrics(transactional_db: None, tmp_path: Path) -> None:
    """Under gunicorn (dashboard/gunicorn.conf.py) every worker process counts into one /metrics."""
    import os
    import socket
    import subprocess
    import sys

    from django.db import connection

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = connection.settings_dict
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PORT": str(port), "HOST": "127.0.0.1",
           "WEB_CONCURRENCY": "3", "WEB_THREADS": "1", "ENV_FILE": "none", "LOG_FORMAT": "json",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(tmp_path / "gunicorn.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "dashboard/gunicorn.conf.py",
                               "dashboard.asgi:application"],
                              cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            try:
                # Not /healthz: a probe that timed out here would still be counted there after the first scrape.
                requests.get(f"{base}/readyz", timeout=30)
                break
            except requests.RequestException:  # not listening yet, or workers still booting
                time.sleep(0.3)
        before = scrape(base)
        key = ("mcphub_http_requests_total", (("method", "GET"), ("route", "healthz"), ("status", "200")))
        for _ in range(30):  # new connections: spread over the three workers
            assert requests.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=10).status_code == 200
        after = scrape(base)
        assert after[key] - before.get(key, 0) == 30
        pids = {p.name for p in (tmp_path / "data" / "prometheus").iterdir()}
        assert len(pids) >= 2  # more than one process wrote its counters, and all were summed
        lines = [json.loads(x) for x in (tmp_path / "gunicorn.log").read_text().splitlines() if x.startswith("{")]
        assert any(x["logger"] == "gunicorn.error" and "Booting worker" in x["event"] for x in lines)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
