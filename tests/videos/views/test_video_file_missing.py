"""A completed video whose file is gone (deleted from storage behind the row, or its name lost from the row): the
dashboard says so instead of a spinner at 100 %, the API answers without a link it knows to be dead, and every link
and download answers a JSON 404 naming the cause, never a 500."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from tests.factories import make_key, make_session
from videos.models import Video
from videos.services import video_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(alice) -> Video:
    video = make_session(owner=alice, prompt="A lighthouse at dusk", width=320, height=180).videos.get()
    video_start(video.pk)  # rendered locally, stored
    video.refresh_from_db()
    assert video.status == "completed" and default_storage.exists(video.file)
    return video


def _pages(client: Client, video: Video) -> list[str]:
    return [client.get(reverse(name, args=args)).content.decode() for name, args in (
        ("videos:history", []), ("videos:video-detail", [video.public_id]),
        ("videos:session-detail", [video.session.public_id]))]


def test_the_card_says_the_file_is_unavailable_instead_of_rendering(client, alice, made) -> None:
    client.force_login(alice)
    for body in _pages(client, made):
        assert "<video" in body and "File unavailable" not in body
    default_storage.delete(made.file)  # gone from storage; the row still names it
    for body in _pages(client, made):
        assert "File unavailable" in body and "Rendering" not in body and "spinner" not in body
        assert 'data-file="missing"' in body and "<video" not in body and ">Download<" not in body
    Video.objects.filter(pk=made.pk).update(file="")  # and with no name in the row
    for body in _pages(client, made):
        assert "File unavailable" in body and "Rendering" not in body and "<video" not in body


def test_the_api_answers_a_completed_video_without_its_file_with_file_missing(alice, made) -> None:
    key = make_key(alice)[1]
    client = Client()
    Video.objects.filter(pk=made.pk).update(file="")
    for path in (f"/api/v3/videos/{made.public_id}", f"/api/v3/videos/sessions/{made.session.public_id}",
                 "/api/v3/videos/history"):
        answer = client.get(path, headers={"X-API-Key": key})
        assert answer.status_code == 200, (path, answer.content)
        body = answer.json()
        video = body["videos"][0] if "videos" in body else body.get("video", body)
        assert video["status"] == "completed" and video["video_url"] is None, path
        assert video["error_code"] == "file_missing" and "no longer stored" in video["error"], path


def test_a_link_to_a_deleted_file_answers_a_json_404(alice, made) -> None:
    key = make_key(alice)[1]
    client = Client()
    url = client.get(f"/api/v3/videos/{made.public_id}", headers={"X-API-Key": key}).json()
    url = url.get("video", url)["video_url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    default_storage.delete(made.file)
    for headers in ({}, {"Range": "bytes=0-99"}):
        answer = client.get("/" + path, headers=headers)
        assert answer.status_code == 404 and answer["Content-Type"] == "application/json"
        assert answer.json()["error"]["code"] == "file_missing"
    assert client.head("/" + path).status_code == 404


@pytest.mark.parametrize("variant", ["video", "spritesheet"])
def test_the_openai_download_of_a_deleted_file_is_a_404_not_a_500(alice, made, variant) -> None:
    key = make_key(alice)[1]
    default_storage.delete(made.file)
    client = Client(headers={"Authorization": f"Bearer {key}"})
    answer = client.get(f"/v1/videos/{made.public_id}/content?variant={variant}")
    assert answer.status_code == 404, answer.content
    assert answer.json()["error"]["code"] == "file_missing"
    thumbnail = client.get(f"/v1/videos/{made.public_id}/content?variant=thumbnail")  # still stored: still served
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"
