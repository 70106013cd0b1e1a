"""A fake Luma in a process of its own on 127.0.0.1, for bench/vendor_polling.py: every status request is
answered after --latency seconds; tasks stay `running` until POST /__finish (then their next poll says
succeeded). GET /__stats gives its counters as JSON. Prints its base URL on the first line of stdout.

    .venv/bin/python bench/fakevendor_server.py --latency 0.05
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakevendors import Reply, Request, _CountingServer  # noqa: E402
from tests.fakevendors.luma import FakeLuma  # noqa: E402

class BenchLuma(FakeLuma):
    """Status polls are counted by the base class (polls, polling / max_polling) and answered after `poll_latency`."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.poll_latency = latency
        self.script = ["queued", "running:50"]  # the last stage sticks: running until /__finish
        self.finishing = False

    def handle(self, request: Request) -> Reply:
        if request.path == "/__stats":
            with self._lock:
                return Reply(200, {"polls": self.polls, "max_polling": self.max_polling, "polling": self.polling,
                                   "creates": len(self.posted("/generations/video")), "connections": self.connections,
                                   "in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
                                   "requests": len(self.requests), "problems": self.problems[:5]})
        if request.path == "/__finish":
            with self._lock:
                self.finishing = True
                self.script = ["succeeded"]
                for task in self.tasks.values():
                    task.script = [*task.script[:task.polls], "succeeded"]
            return Reply(200, {"ok": True})
        return super().handle(request)

    def new_task(self, kind: str, request: Any) -> Any:
        task = super().new_task(kind, request)
        if self.finishing:
            task.script = ["succeeded"]
        return task


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--video", default="", help="an MP4 that result downloads serve")
    args = p.parse_args()
    _CountingServer.request_queue_size = 1024  # hundreds of clients connect at once (the baseline's threads)
    fake = BenchLuma(args.latency)
    if args.video:
        fake.video = Path(args.video).read_bytes()
    print(fake.base_url, flush=True)
    stop = threading.Event()
    threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
