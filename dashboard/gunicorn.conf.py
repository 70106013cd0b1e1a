"""gunicorn settings for the web process (`gunicorn -c dashboard/gunicorn.conf.py dashboard.asgi:application`).

Uvicorn workers run the ASGI app (dashboard/asgi.py): long-polls and live streams wait on the event loop, every
other request runs on WEB_THREADS threads per worker, as under the gthread workers before.

It turns on prometheus_client's multiprocess mode, so /metrics counts the requests of every gunicorn worker:
the directory lives under DATA_DIR and is emptied when the server starts.
"""

import os
import shutil
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # gunicorn started from another folder
    sys.path.insert(0, str(_ROOT))

from dashboard.env import load_env_file  # noqa: E402

load_env_file(_ROOT / ".env")
_metrics_dir = Path(os.environ.get("DATA_DIR") or _ROOT / "data").resolve() / "prometheus"
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_metrics_dir))

bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]  # noqa: S104 - in a container
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("WEB_THREADS", "4"))  # read by dashboard/asgi.py: the thread pool of plain requests
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 120
accesslog = None  # the app logs each request itself (JSON, with route, status, duration and request id)
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":  # gunicorn's own lines as JSON too
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "dashboard.logs.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}},
    }


def on_starting(server: object) -> None:
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
