"""`make run`'s default: SQLite + the file-based broker, no servers. `manage.py serve` is started as a user
would (a fresh DATA_DIR, no DATABASE_URL / CELERY_BROKER_URL), then the spec's flow runs against it."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_the_quick_start_on_sqlite_and_the_file_broker(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "MEDIA_ROOT"}}
    env.update(DATA_DIR=str(tmp_path / "data"), DEBUG="true", PORT=str(port), SWEEP_INTERVAL="2")
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # generous: a loaded machine starts slowly; nothing here is timed
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if requests.get(f"{base}/accounts/login/", timeout=30).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or too busy to answer in time
                pass
            time.sleep(0.5)
        creds = json.loads((tmp_path / "data" / "demo-credentials.json").read_text())
        assert creds["api_key"] in (tmp_path / "serve.log").read_text()  # printed for the user
        assert f"login: admin / {creds['admin_password']}" in (tmp_path / "serve.log").read_text()
        headers = {"X-API-Key": creds["api_key"], "Content-Type": "application/json"}
        result = requests.post(f"{base}/api/v3/videos/generate", headers=headers,
                               json={"prompt": "A cat playing with a ball of yarn",
                                     "model": "luma-ray-2.0-flash-5s-t2v", "width": 640, "height": 360}).json()
        assert result["credits_used"] == 20.0 and result["remaining_credits"] == 980.0
        deadline = time.monotonic() + 300
        seen: list[tuple[str, int, str]] = []
        while time.monotonic() < deadline:  # long-polls: here woken by the server's periodic re-read (no Redis)
            data = requests.get(f"{base}/api/v3/videos/sessions/{result['session_id']}",
                                headers=headers, params={"page": 1, "page_size": 50, "wait": 60}, timeout=120).json()
            now = (data["videos"][0]["status"], data["videos"][0]["progress"], data["session"]["status"])
            assert now not in seen[-1:], seen  # each answer brings a change: none waited out its 60 s
            seen.append(now)
            if data["videos"][0]["status"] in {"completed", "failed"}:
                break
        video = data["videos"][0]
        assert video["status"] == "completed", data
        with av.open(io.BytesIO(requests.get(video["video_url"]).content)) as container:
            assert (container.streams.video[0].width, container.streams.video[0].height) == (640, 360)
        # A timed session: its second video comes from serve's sessions scheduler (ticksessions) on SQLite.
        timed = requests.post(f"{base}/api/v3/videos/sessions", headers=headers,
                              json={"prompt": "Clouds over a hill", "model": "luma-ray-2.0-flash-5s-t2v",
                                    "width": 256, "height": 144, "max_videos": 2, "interval_seconds": 10}).json()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            made = requests.get(f"{base}/api/v3/videos/sessions/{timed['session_id']}", headers=headers,
                                params={"page": 1, "page_size": 50}, timeout=60).json()
            if len(made["videos"]) == 2:
                break
            time.sleep(0.5)
        assert len(made["videos"]) == 2 and made["session"]["credits_used"] == 40.0, made
        # serve's scheduler and the poller beside its worker beat through the file-based cache: /readyz sees both
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ready = requests.get(f"{base}/readyz", params={"check": ["scheduler", "poller"]}, timeout=60)
            checks = ready.json()["checks"]
            scheduler = checks["scheduler"].get("processes") or [{}]
            if checks["poller"].get("alive") and scheduler[0].get("sessions_ticked"):  # beats are throttled (5 s)
                break
            time.sleep(0.5)
        assert ready.status_code == 200 and checks["scheduler"]["alive"] == checks["poller"]["alive"] == 1, checks
        assert checks["scheduler"]["processes"][0]["sessions_ticked"] >= 1 and "warning" not in checks["scheduler"]
        assert checks["poller"]["processes"][0]["pid"] != checks["scheduler"]["processes"][0]["pid"]
        login = requests.Session()
        page = login.get(f"{base}/accounts/login/")
        token = login.cookies["csrftoken"]
        signed_in = login.post(f"{base}/accounts/login/", data={"username": creds["username"],
                                                                "password": creds["password"],
                                                                "csrfmiddlewaretoken": token},
                               headers={"Referer": page.url})
        assert signed_in.status_code == 200 and "/accounts/login/" not in signed_in.url
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()
