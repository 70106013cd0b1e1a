"""The spec's quick starts (Python, JavaScript, cURL) and session example, run as written against a real
HTTP server and a real Celery worker, down to a downloaded MP4 that decodes."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import av
import pytest
import requests

from tests.factories import make_key, make_user

pytestmark = pytest.mark.worker
SPEC_MODEL = "minimax-hailuo-02-6s-768p-t2v"


def _decode(data: bytes) -> tuple[int, int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.width, stream.height, frames


def test_python_quick_start(celery_worker_process: str) -> None:
    user = make_user("quick", credits=500)
    api_key = make_key(user)[1]
    api_base = f"{celery_worker_process}/api/v3"
    # --- the spec's Python sample, with our address ---
    response = requests.post(f"{api_base}/videos/generate",
                             headers={"X-API-Key": api_key, "Content-Type": "application/json"},
                             json={"prompt": "A cat playing with a ball of yarn", "model": SPEC_MODEL})
    result = response.json()
    session_id = result["session_id"]
    assert result["credits_used"] == 48.0
    max_wait, poll_interval, start_time = 120, 1, time.time()
    video_data = b""
    while time.time() - start_time < max_wait:
        session_data = requests.get(f"{api_base}/videos/sessions/{session_id}", headers={"X-API-Key": api_key},
                                    params={"page": 1, "page_size": 50}).json()
        videos = session_data.get("videos", [])
        if videos and videos[0]["status"] == "completed":
            video_data = requests.get(videos[0]["video_url"]).content  # no key: a signed link
            break
        time.sleep(poll_interval)
    assert video_data, "the video did not complete in time"
    assert _decode(video_data) == (1366, 768, 6 * 24)
    assert session_data["session"]["status"] == "completed"
    assert requests.get(f"{api_base}/credits", headers={"X-API-Key": api_key}).json()["remaining_credits"] == 452.0


def test_javascript_and_curl_quick_starts(celery_worker_process: str, tmp_path: Path) -> None:
    if not shutil.which("node") or not shutil.which("jq") or not shutil.which("curl"):
        pytest.skip("node, jq and curl run the spec's JavaScript and cURL samples")
    user = make_user("jsuser", credits=500)
    api_key = make_key(user)[1]
    api_base = f"{celery_worker_process}/api/v3"
    script = tmp_path / "quick.mjs"
    script.write_text(JS_SAMPLE.replace("API_KEY", api_key).replace("API_BASE", api_base))
    out = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=150)
    assert "Video ready: http" in out.stdout, out.stdout + out.stderr
    size = float(out.stdout.split("Downloaded ")[1].split(" MB")[0])
    assert size > 0.01
    curl = subprocess.run(["bash", "-c", CURL_SAMPLE], capture_output=True, text=True, timeout=150,
                          env={"PATH": "/usr/bin:/bin", "API_KEY": api_key, "API_BASE": api_base})
    assert '"status": "completed"' in curl.stdout, curl.stdout + curl.stderr


def test_session_example_makes_several_videos_then_completes(celery_worker_process: str) -> None:
    user = make_user("sessions", credits=500)
    api_key = make_key(user)[1]
    api_base = f"{celery_worker_process}/api/v3"
    session_id = requests.post(f"{api_base}/videos/sessions",
                               headers={"X-API-Key": api_key, "Content-Type": "application/json"},
                               json={"prompt": "Mountain landscapes at different times of day",
                                     "model": "luma-ray-2.0-flash-5s-t2v", "width": 320, "height": 180,
                                     "duration_minutes": 5, "max_videos": 2, "interval_seconds": 10}).json()["session_id"]
    session_data: dict[str, Any] = {}
    for _ in range(60):
        session_data = requests.get(f"{api_base}/videos/sessions/{session_id}?page=1&page_size=50",
                                    headers={"X-API-Key": api_key}).json()
        if session_data["session"]["status"] in ["completed", "stopped"]:
            break
        time.sleep(1)
    assert session_data["session"]["status"] == "completed"
    videos = session_data["videos"]
    assert [v["status"] for v in videos] == ["completed", "completed"]
    first, second = (time.mktime(time.strptime(v["created_at"][:19], "%Y-%m-%dT%H:%M:%S")) for v in videos)
    assert second - first >= 9  # one video per interval_seconds
    assert all(_decode(requests.get(v["video_url"]).content)[:2] == (320, 180) for v in videos)


JS_SAMPLE = """
const apiKey = 'API_KEY';
const apiBase = 'API_BASE';
const response = await fetch(`${apiBase}/videos/generate`, {
  method: 'POST',
  headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' },
  body: JSON.stringify({ prompt: 'A cat playing with a ball of yarn', model: 'luma-ray-2.0-flash-5s-t2v' })
});
const result = await response.json();
if (!response.ok) { console.log(`HTTP ${response.status} ${JSON.stringify(result)}`); process.exit(1); }
const sessionId = result.session_id;
console.log(`Session ID: ${sessionId}`);
console.log(`Credits used: ${result.credits_used}`);
const maxWait = 120000;
const pollInterval = 1000;
const startTime = Date.now();
while (Date.now() - startTime < maxWait) {
  const sessionResponse = await fetch(`${apiBase}/videos/sessions/${sessionId}?page=1&page_size=50`,
    { headers: { 'X-API-Key': apiKey } });
  const sessionData = await sessionResponse.json();
  const videos = sessionData.videos || [];
  if (videos.length > 0 && videos[0].status === 'completed') {
    const videoUrl = videos[0].video_url;
    console.log(`Video ready: ${videoUrl}`);
    const videoBlob = await fetch(videoUrl).then(r => r.blob());
    console.log(`Downloaded ${(videoBlob.size / 1024 / 1024).toFixed(2)} MB`);
    break;
  }
  console.log(' Still processing...');
  await new Promise(resolve => setTimeout(resolve, pollInterval));
}
"""

CURL_SAMPLE = """
SESSION_ID=$(curl -s -X POST "$API_BASE/videos/generate" \\
-H "X-API-Key: $API_KEY" \\
-H "Content-Type: application/json" \\
-d '{"prompt":"A cat playing with a ball of yarn","model":"luma-ray-2.0-flash-5s-t2v"}' \\
| jq -r '.session_id')
echo "Session ID: $SESSION_ID"
for i in $(seq 1 60); do
  STATUS=$(curl -s "$API_BASE/videos/sessions/$SESSION_ID?page=1&page_size=50" -H "X-API-Key: $API_KEY" \\
    | jq -r '.videos[0].status')
  [ "$STATUS" = "completed" ] && break
  sleep 1
done
curl -s "$API_BASE/videos/sessions/$SESSION_ID?page=1&page_size=50" \\
-H "X-API-Key: $API_KEY" \\
| jq '.videos[0]'
"""
