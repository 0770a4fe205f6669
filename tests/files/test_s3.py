"""Files on S3-compatible object storage through django-storages, against moto's S3 server
started here (docs/files.md#storage): no code of the library speaks S3."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_mobile_sync.files.models import Blob
from django_mobile_sync.files.purge import purge_files
from tests.files.conftest import Device, digest
from tests.helpers.tools import require_module

BUCKET = "field-photos"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server in a process of its own; its endpoint URL."""
    require_module("moto.server")
    boto3 = require_module("boto3")
    require_module("storages.backends.s3")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.1)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3(settings: Any, s3_server: str) -> Any:
    settings.STORAGES = {
        **settings.STORAGES,
        "sync_files": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
            },
        },
    }
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "FILES_STORAGE": "sync_files"}
    import boto3

    return boto3.resource(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).Bucket(BUCKET)


def keys(bucket: Any) -> list[str]:
    return sorted(obj.key for obj in bucket.objects.all())


def test_an_upload_to_s3_resumes_dedups_serves_ranges_and_is_purged(
    s3: Any, ann: Device, bob: Device, django_capture_on_commit_callbacks: Any
) -> None:
    data = os.urandom(300_000)
    created = ann.create(data)
    url = created["Location"]
    assert ann.patch(url, data[:100_000], 0).status_code == 204
    assert [k for k in keys(s3) if k.endswith(".part")]  # the part is an object
    assert ann.head(url)["Upload-Offset"] == "100000"
    assert ann.patch(url, data[100_000:], 100_000).status_code == 204
    [key] = keys(s3)  # the parts are gone, the file is one object
    assert key.startswith("mobile_sync/files/") and digest(data) in key
    assert s3.Object(key).get()["Body"].read() == data
    bob.upload(data, chunk=150_000)  # the same bytes: stored once
    assert keys(s3) == [key]
    part = ann.get(digest(data), HTTP_RANGE="bytes=1000-1999")
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == data[1000:2000]
    Blob.objects.update(unreferenced_since=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):  # the bytes, once the row is gone
        assert purge_files().files == 1
    assert keys(s3) == []
