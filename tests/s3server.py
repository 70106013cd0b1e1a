"""A real S3-compatible server on 127.0.0.1 for the suite: moto in server mode (HTTP, SigV4, ranges), and
the settings that point Django's default storage at it (what AWS_STORAGE_BUCKET_NAME & co. produce)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test-access-key", "AWS_SECRET_ACCESS_KEY": "test-secret-key-for-moto",
               "AWS_S3_REGION_NAME": "us-east-1", "AWS_S3_ADDRESSING_STYLE": "path"}


@dataclass
class S3:
    endpoint: str
    bucket: str
    client: Any

    @property
    def env(self) -> dict[str, str]:
        """The environment a process needs to use this bucket (.env.example's S3 settings)."""
        return {**CREDENTIALS, "AWS_STORAGE_BUCKET_NAME": self.bucket, "AWS_S3_ENDPOINT_URL": self.endpoint}

    def keys(self) -> list[str]:
        return [o["Key"] for o in self.client.list_objects_v2(Bucket=self.bucket).get("Contents", [])]

    def use_in(self, settings: Any) -> None:
        """Point the default storage at this bucket, as settings.py does from the environment."""
        settings.STORAGES = {**settings.STORAGES, "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": self.bucket, "endpoint_url": self.endpoint, "region_name": "us-east-1",
                        "access_key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        "secret_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"], "querystring_auth": True,
                        "querystring_expire": settings.FILE_URL_TTL, "file_overwrite": False,
                        "addressing_style": "path", "signature_version": "s3v4"}}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_s3() -> Iterator[S3]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        bucket = f"media-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        yield S3(endpoint, bucket, client)
    finally:
        server.stop()
