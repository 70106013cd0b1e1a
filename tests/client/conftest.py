"""The real Celery worker of the end-to-end suite, for the client and CLI tests here."""

from tests.e2e.conftest import celery_worker_process, worker_concurrency, worker_env  # noqa: F401
