"""The `mcpvideo` CLI and client end to end: a live server, a real Celery worker, a decodable MP4 out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest
from mcpvideo import Client

from tests.factories import make_key, make_user, png_bytes

pytestmark = pytest.mark.worker
CLI = Path(sys.executable).with_name("mcpvideo")


def _decode(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, sum(1 for _ in container.decode(stream))


def _cli(*args: str, key: str, base: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert CLI.exists(), "make test installs ./client (pip install -e ./client)"
    env = {"PATH": os.environ.get("PATH", ""), "MCPHUB_API_KEY": key, "MCPHUB_BASE_URL": base}
    result = subprocess.run([str(CLI), *args], check=False, capture_output=True, text=True, timeout=300, env=env)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_cli_generates_waits_and_downloads(celery_worker_process: str, tmp_path: Path) -> None:
    user = make_user("cli", credits=500)
    key, base = make_key(user)[1], f"{celery_worker_process}/api/v3"
    image = tmp_path / "start.png"
    image.write_bytes(png_bytes(1280, 720, (20, 120, 200)))
    out = tmp_path / "out.mp4"
    result = _cli("generate", "--model", "luma-ray-2.0-i2v-5s", "--prompt", "Waves roll in", "--image", str(image),
                  "--duration", "5", "--wait", "-o", str(out), key=key, base=base)
    assert _decode(out) == (1280, 720, 5 * 24)
    assert "100%" in result.stderr  # the progress bar reached the end
    assert f"saved to {out}" in result.stdout and "completed" in result.stdout

    credits = json.loads(_cli("--json", "credits", key=key, base=base).stdout)
    assert credits["remaining_credits"] == 455.0
    models = _cli("models", key=key, base=base).stdout
    assert "sora-2-pro" in models and "simulated" in models
    history = json.loads(_cli("--json", "history", key=key, base=base).stdout)
    assert [v["status"] for v in history["videos"]] == ["completed"]

    bad = _cli("generate", "--model", "luma-ray-2.0-i2v-5s", "--prompt", "No image", key=key, base=base, check=False)
    assert bad.returncode == 1 and "head_image" in bad.stderr
    denied = _cli("credits", key="mcp_wrong", base=base, check=False)
    assert denied.returncode == 1 and "invalid_api_key" in denied.stderr


def test_cli_sessions_create_list_get_stop_delete(celery_worker_process: str) -> None:
    user = make_user("cli2", credits=500)
    key, base = make_key(user)[1], f"{celery_worker_process}/api/v3"
    created = json.loads(_cli("--json", "sessions", "create", "--model", "luma-ray-2.0-flash-5s-t2v", "--prompt",
                              "Clouds over hills", "--max-videos", "3", "--interval", "60", "--budget", "45", key=key,
                              base=base).stdout)
    session_id = created["session_id"]
    assert created["status"] == "running" and len(created["videos"]) == 1 and created["budget_credits"] == 45.0
    listed = json.loads(_cli("--json", "sessions", "list", key=key, base=base).stdout)
    assert [s["session_id"] for s in listed["sessions"]] == [session_id]
    assert session_id in _cli("sessions", "get", session_id, key=key, base=base).stdout
    stopped = json.loads(_cli("--json", "sessions", "stop", session_id, key=key, base=base).stdout)
    assert stopped["status"] == "stopped"
    deleted = _cli("sessions", "delete", session_id, key=key, base=base).stdout
    assert f"deleted {session_id} and 1 videos" in deleted
    missing = _cli("sessions", "get", session_id, key=key, base=base, check=False)
    assert missing.returncode == 1 and "not_found" in missing.stderr


def test_client_generate_wait_download(celery_worker_process: str, tmp_path: Path) -> None:
    user = make_user("py", credits=500)
    client = Client(api_key=make_key(user)[1], base_url=f"{celery_worker_process}/api/v3")
    video = client.generate(model="luma-ray-2.0-flash-5s-t2v", prompt="A red kite over a beach", seed=7)
    seen: list[tuple[str, int]] = []
    video.wait(on_progress=lambda v: seen.append((v.status, v.progress)), timeout=180, interval=0.5)
    assert seen[-1] == ("completed", 100)
    assert [p for _, p in seen] == sorted(p for _, p in seen)  # progress only goes up
    assert video.simulated is True and video.video_url.startswith(celery_worker_process)
    path = video.download(tmp_path / "kite.mp4")
    assert _decode(Path(path)) == (1280, 720, 5 * 24)
    video.download(tmp_path / "kite.jpg", variant="thumbnail")
    assert (tmp_path / "kite.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    session = client.sessions.get(video.session_id)
    assert session.status == "completed" and [v.id for v in session.videos] == [video.id]
    assert client.sessions.delete(video.session_id) == 1
    assert not (tmp_path / "kite.mp4.part").exists()


