"""The same start message delivered three times at once on the default setup (SQLite file + file broker +
file cache, as `make run` uses): three processes run the task body together; one renders, one file, one charge.

Before the database claim, a cache lock (not atomic on the file cache) let two deliveries render, and the
loser deleted the winner's file (same storage name): completed, charged, and a 404 for the video."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.worker

SETUP = """
import django; django.setup()
from tests.factories import make_session, make_user
user = make_user("dup", credits=1000)
video = make_session(owner=user, prompt="A lighthouse in a storm", width=320, height=180).videos.get()
print(video.pk)
"""

DELIVERY = """
import json, sys, time
import django; django.setup()
from videos.providers.local import LocalProvider
from videos import tasks
renders = []
generate = LocalProvider.generate
def counting(self, job, out_dir):
    renders.append(job.video_id)
    return generate(self, job, out_dir)
LocalProvider.generate = counting
go = float(sys.argv[2])
while time.time() < go:  # all three start together
    time.sleep(0.005)
tasks.video_start_task(int(sys.argv[1]))
print(json.dumps({"renders": len(renders)}))
"""

CHECK = """
import json
import django; django.setup()
from django.core.files.storage import default_storage
from billing.models import CreditEntry
from videos.models import Video
v = Video.objects.get()
folder = v.file.rsplit("/", 1)[0]
print(json.dumps({"status": v.status, "stage": v.stage, "file": v.file, "exists": default_storage.exists(v.file),
                  "stored": sorted(default_storage.listdir(folder)[1]) if folder else [],
                  "charges": CreditEntry.objects.filter(kind="charge").count(),
                  "refunds": CreditEntry.objects.filter(kind="refund").count()}))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "MEDIA_ROOT"}}
    env.update(DATA_DIR=str(tmp_path / "data"), DEBUG="true", DJANGO_SETTINGS_MODULE="dashboard.settings",
               PYTHONPATH=str(ROOT))
    return env


def _run(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_three_deliveries_at_once_render_once_store_one_file_charge_once(tmp_path: Path) -> None:
    env = _env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True,
                   timeout=600)
    pk = _run(SETUP, env)
    go = str(time.time() + 4)  # the three processes import Django first, then start at this instant
    children = [subprocess.Popen([sys.executable, "-c", DELIVERY, pk, go], cwd=ROOT, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outputs = [child.communicate(timeout=600) for child in children]
    assert all(child.returncode == 0 for child in children), [err[-2000:] for _, err in outputs]
    renders = sum(json.loads(out.strip().splitlines()[-1])["renders"] for out, _ in outputs)
    result = json.loads(_run(CHECK, env))
    assert renders == 1, outputs
    assert (result["status"], result["stage"], result["exists"]) == ("completed", "done", True), result
    assert [n for n in result["stored"] if n.endswith(".mp4")] == [result["file"].rsplit("/", 1)[1]], result
    assert (result["charges"], result["refunds"]) == (1, 0), result
