"""Shared fixtures: personas alice (owner) and bob (stranger), API clients, fast hashers, clean cache."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tests.factories import make_key, make_user


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings: Any, tmp_path: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.RATE_LIMIT_PER_MINUTE = 1000
    cache.clear()


@pytest.fixture(autouse=True)
def _catalog(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush every table, the migration-seeded catalog included: seed it again."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if not marker and not {"db", "transactional_db", "live_server"} & names:
        return
    if not marker:  # with the marker, pytest-django has already opened the database
        request.getfixturevalue("transactional_db" if {"transactional_db", "live_server"} & names else "db")
    from videos.catalog import catalog_sync
    from videos.models import VideoModel

    if not VideoModel.objects.exists():
        catalog_sync(VideoModel)


@pytest.fixture
def alice(db: None) -> Any:
    return make_user("alice", credits=1000)


@pytest.fixture
def bob(db: None) -> Any:
    return make_user("bob", credits=1000)


class ApiClient:
    """A Django test client that sends X-API-Key and JSON (the spec's samples, in test form)."""

    def __init__(self, raw_key: str) -> None:
        self.client = Client()
        self.key = raw_key

    def _headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v3" + path, params, headers=self._headers())

    def post(self, path: str, body: Any = None, *, raw: str | None = None) -> Any:
        import json

        data = raw if raw is not None else json.dumps(body or {})
        return self.client.post("/api/v3" + path, data, content_type="application/json", headers=self._headers())

    def delete(self, path: str) -> Any:
        return self.client.delete("/api/v3" + path, headers=self._headers())


@pytest.fixture
def alice_api(alice: Any) -> ApiClient:
    return ApiClient(make_key(alice)[1])


@pytest.fixture
def bob_api(bob: Any) -> ApiClient:
    return ApiClient(make_key(bob)[1])
