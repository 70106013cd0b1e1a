"""/api/v3/docs in headless Chromium with every address outside the live server blocked: Swagger UI comes
from our own static files, renders every operation and the typed schemas, and asks nothing of the internet."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_api_docs_render_offline(page: Any, live_server: Any) -> None:
    ours = urlsplit(live_server.url).netloc
    outside: list[str] = []

    def only_ours(route: Any) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    page.goto("/api/v3/docs")
    page.get_by_text("/api/v3/videos/generate", exact=True).first.wait_for()
    for path in ("/api/v3/videos/sessions/{session_id}", "/api/v3/videos/history", "/api/v3/credits",
                 "/api/v3/media-pricing/models"):
        assert page.get_by_text(path, exact=True).count() >= 1, path
    page.get_by_text("/api/v3/videos/generate", exact=True).first.click()
    page.get_by_text("Idempotency-Key", exact=True).first.wait_for()
    assert page.get_by_text("CreatedOut", exact=True).count() >= 1  # the typed schemas, listed
    assert outside == []
