"""A vendor poller process beside every Celery worker: started when the worker is ready, stopped with it.

So `make run`, docker-compose's worker and the tests' workers poll vendors with no process of their own to
manage. POLLER_IN_WORKER=false leaves it to dedicated `manage.py pollvendors` processes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

log = logging.getLogger(__name__)
_child: subprocess.Popen | None = None


@worker_ready.connect(dispatch_uid="videos.pollerd.start")
def poller_start(**kwargs: Any) -> None:
    global _child
    if not settings.POLLER_IN_WORKER or _child is not None:
        return
    manage = str(settings.BASE_DIR / "manage.py")
    _child = subprocess.Popen([sys.executable, manage, "pollvendors", "--parent", str(os.getpid())])
    log.info("vendor poller started (pid %d)", _child.pid)


@worker_shutdown.connect(dispatch_uid="videos.pollerd.stop")
def poller_stop(**kwargs: Any) -> None:
    global _child
    child, _child = _child, None
    if child is None or child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
