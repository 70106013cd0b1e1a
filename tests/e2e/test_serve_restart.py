"""`make run` killed mid-render (SQLite + the file broker, no servers) and started again on the same data:
the video is resumed by the next start and completes once, charged once, with one file."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sqlite3
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


def _serve(tmp_path: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "MEDIA_ROOT"}}
    env.update(DATA_DIR=str(tmp_path / "data"), DEBUG="true", PORT=str(port), SWEEP_INTERVAL="2")
    with open(tmp_path / "serve.log", "ab") as log:
        server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
        try:
            if requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.5)


def _kill(server: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(server.pid, sig)
    except ProcessLookupError:
        return
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def test_a_render_cut_off_by_a_stop_is_resumed_on_the_next_start(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(tmp_path, port)
    try:
        creds = json.loads((tmp_path / "data" / "demo-credentials.json").read_text())
        headers = {"X-API-Key": creds["api_key"], "Content-Type": "application/json"}
        created = requests.post(f"{base}/api/v3/videos/generate", headers=headers, timeout=60,
                                json={"prompt": "A paper boat drifting on a lake at dawn",
                                      "model": "luma-ray-2.0-flash-5s-t2v", "width": 1280, "height": 720}).json()
        url = f"{base}/api/v3/videos/sessions/{created['session_id']}"

        def video() -> dict:
            try:
                return requests.get(url, headers=headers, timeout=30).json()["videos"][0]
            except requests.RequestException as e:
                raise AssertionError((tmp_path / "serve.log").read_text()[-4000:]) from e

        deadline = time.monotonic() + 120
        while not (video()["status"] == "processing" and video()["progress"] > 0):
            assert video()["status"] != "completed", "the render finished before it could be cut off"
            assert time.monotonic() < deadline, video()
            time.sleep(0.1)
        _kill(server)  # the plug pulled mid-render: web, worker, pool children at once
        assert video_status_in_db(tmp_path) == "processing"

        server = _serve(tmp_path, port)
        deadline = time.monotonic() + 300
        while video()["status"] != "completed":
            assert video()["status"] != "failed", video()
            assert time.monotonic() < deadline, video()
            time.sleep(0.5)
        result = video()
        with av.open(io.BytesIO(requests.get(result["video_url"], timeout=60).content)) as container:
            assert (container.streams.video[0].width, container.streams.video[0].height) == (1280, 720)
        public_id = result["video_id"]
        mp4s = [p.name for p in (tmp_path / "data" / "media").rglob("*.mp4") if p.name.startswith(public_id)]
        assert len(mp4s) == 1, mp4s
        with sqlite3.connect(tmp_path / "data" / "db.sqlite3") as db:
            kinds = sorted(k for (k,) in db.execute("SELECT kind FROM billing_creditentry WHERE video_id = ?",
                                                    (public_id,)))
        assert kinds == ["charge"]
    finally:
        _kill(server, signal.SIGTERM)


def video_status_in_db(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "data" / "db.sqlite3") as db:
        return db.execute("SELECT status FROM videos_video").fetchone()[0]
