"""An in-memory vendor for unit tests, like Django's locmem mail.outbox: it records what it was sent.

Tests script it through class attributes: `FakeProvider.script` is the list of JobStatus returned by
successive polls (the last one repeats), `submit_error` an exception to raise on submit, and
`result_bytes` the file `download` writes.
"""

from __future__ import annotations

from typing import IO, ClassVar

from videos.providers.base import Job, JobStatus, Provider

submitted: list[Job] = []
polled: list[str] = []


class FakeProvider(Provider):
    name = "fake"
    poll_interval = 1.0
    configured: ClassVar[bool] = True
    script: ClassVar[list[JobStatus]] = [JobStatus(state=JobStatus.COMPLETED, result_url="fake://result")]
    submit_error: ClassVar[Exception | None] = None
    download_error: ClassVar[Exception | None] = None
    result_bytes: ClassVar[bytes] = b""

    def is_configured(self) -> bool:
        return self.configured

    def submit(self, job: Job) -> str:
        if self.submit_error is not None:
            raise self.submit_error
        submitted.append(job)
        return f"fake-{len(submitted)}"

    def poll(self, task_id: str, job: Job) -> JobStatus:
        polled.append(task_id)
        index = min(len([p for p in polled if p == task_id]) - 1, len(self.script) - 1)
        return self.script[index]

    def download(self, status: JobStatus, job: Job, dest: IO[bytes]) -> None:
        if self.download_error is not None:
            raise self.download_error
        dest.write(self.result_bytes)


def reset() -> None:
    submitted.clear()
    polled.clear()
    FakeProvider.configured = True
    FakeProvider.script = [JobStatus(state=JobStatus.COMPLETED, result_url="fake://result")]
    FakeProvider.submit_error = None
    FakeProvider.download_error = None
    FakeProvider.result_bytes = b""
