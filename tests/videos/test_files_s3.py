"""Media on S3-compatible storage, against a real S3 server on 127.0.0.1 (moto's server mode): uploads of
results and inputs, presigned URLs for the TTL asked for, Range requests, deletes, a video made end to end."""

from __future__ import annotations

import calendar
import io
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import av
import botocore.exceptions
import pytest
import requests

from tests.factories import data_uri, make_session, png_bytes
from tests.s3server import S3, moto_s3
from videos import tasks
from videos.files import MAX_PRESIGN_SECONDS, file_save, file_url, files_delete

pytestmark = pytest.mark.django_db
DATA = bytes(range(256)) * 40


@pytest.fixture
def s3(settings) -> Iterator[S3]:
    with moto_s3() as server:
        server.use_in(settings)
        yield server


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_results_upload_and_presigned_links_honour_the_ttl(s3: S3, settings) -> None:
    name = file_save("videos/1/ses_x/vid_x.mp4", DATA)
    assert s3.keys() == [name]
    assert s3.client.get_object(Bucket=s3.bucket, Key=name)["Body"].read() == DATA
    url = file_url(name, base="http://unused", ttl=900)
    query = _query(url)
    assert url.startswith(f"{s3.endpoint}/{s3.bucket}/") and query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "900"
    signed_at = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
    assert abs(signed_at - time.time()) < 600  # signed now, for 900 s from now
    assert _query(file_url(name, base="x"))["X-Amz-Expires"] == str(settings.FILE_URL_TTL)
    assert _query(file_url(name, base="x", ttl=30 * 24 * 3600))["X-Amz-Expires"] == str(MAX_PRESIGN_SECONDS)
    got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == DATA


def test_range_requests_are_served_by_the_s3_server(s3: S3) -> None:
    url = file_url(file_save("videos/1/ses_x/vid_r.mp4", DATA), base="x", ttl=600)
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=30)
    assert part.status_code == 206 and part.headers["Content-Range"] == f"bytes 100-199/{len(DATA)}"
    assert part.content == DATA[100:200]
    tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=30)
    assert tail.status_code == 206 and tail.content == DATA[-10:]


def test_deletes_remove_the_objects(s3: S3) -> None:
    names = [file_save(f"videos/1/ses_x/vid_{i}.mp4", DATA) for i in range(2)]
    files_delete(*names, "")
    assert s3.keys() == []
    with pytest.raises(botocore.exceptions.ClientError):
        s3.client.head_object(Bucket=s3.bucket, Key=names[0])


def test_a_video_made_end_to_end_keeps_inputs_and_results_on_s3(s3: S3, alice, alice_api,
                                                                django_capture_on_commit_callbacks) -> None:
    session = make_session(owner=alice, model="luma-ray-2.0-i2v-5s", width=320, height=180,
                           head_image=data_uri(png_bytes()))
    inputs = s3.keys()
    assert inputs and all(k.endswith(".png") for k in inputs)  # the head image, stored for the vendor / renderer
    video = session.videos.get()
    tasks.video_start_task(video.pk)
    video.refresh_from_db()
    assert video.status == "completed", video.error
    assert {video.file, video.thumbnail, video.last_frame} <= set(s3.keys())
    body = alice_api.get(f"/videos/{video.public_id}").json()
    video_url = body.get("video_url") or body["video"]["video_url"]
    assert video_url.startswith(s3.endpoint)
    with av.open(io.BytesIO(requests.get(video_url, timeout=60).content)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 320, 180)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/videos/sessions/{session.public_id}").status_code in (200, 204)
    assert s3.keys() == []


def test_readyz_checks_the_bucket(s3: S3, client, settings) -> None:
    r = client.get("/readyz", {"check": "storage"})
    assert r.status_code == 200 and r.json()["checks"]["storage"] == {"status": "ok", "backend": "s3",
                                                                       "bucket": s3.bucket}
    s3.client.delete_bucket(Bucket=s3.bucket)
    gone = client.get("/readyz", {"check": "storage"})
    assert gone.status_code == 503 and gone.json()["checks"]["storage"]["status"] == "error"
