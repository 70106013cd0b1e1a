from __future__ import annotations

from typing import Any

import pytest

from tests.fakevendors import running
from tests.fakevendors.luma import FakeLuma
from videos import tasks


@pytest.fixture
def luma(settings: Any) -> Any:
    yield from running(FakeLuma, settings)


@pytest.fixture
def scheduled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple]]:
    """Messages the tasks would send, instead of a broker (the tests call the tasks themselves)."""
    sent: list[tuple[str, tuple]] = []
    for task in (tasks.video_start_task, tasks.video_poll_task, tasks.vendor_dispatch_task):
        monkeypatch.setattr(task, "apply_async", lambda args, _n=task.name, **kw: sent.append((_n, tuple(args))))
        monkeypatch.setattr(task, "delay", lambda *args, _n=task.name: sent.append((_n, args)))
    return sent
