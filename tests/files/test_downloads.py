"""Content-addressed files per tenant: dedup, ``HEAD`` to skip an upload, downloads with
``ETag``, ``Range`` and ``If-None-Match``, and nothing across tenants (docs/files.md)."""

from __future__ import annotations

import os

import pytest

from django_mobile_sync.files.models import Blob
from tests.files.conftest import Device, digest, metadata, stored_files

DATA = os.urandom(3000)


def test_identical_bytes_are_stored_once_per_tenant(ann: Device, bob: Device, eve: Device) -> None:
    assert ann.api.head(f"/api/sync/files/sha256/{digest(DATA)}").status_code == 404
    ann.upload(DATA)
    assert bob.api.head(f"/api/sync/files/sha256/{digest(DATA)}").status_code == 200
    bob.upload(DATA)  # an ordinary upload, deduplicated when it completes
    assert Blob.objects.count() == 1 and len(stored_files()) == 1
    assert eve.api.head(f"/api/sync/files/sha256/{digest(DATA)}").status_code == 404
    eve.upload(DATA)
    assert Blob.objects.count() == 2 and len(stored_files()) == 2


def test_another_tenant_gets_the_same_404_as_for_an_unknown_digest(
    ann: Device, eve: Device
) -> None:
    ann.upload(DATA)
    theirs = eve.get(digest(DATA))
    nobodys = eve.get(digest(b"nobody"))
    assert theirs.status_code == nobodys.status_code == 404
    assert theirs.content == nobodys.content
    assert dict(theirs.headers).keys() == dict(nobodys.headers).keys()
    assert ann.get("not-hex").status_code == 404


def test_download_headers_range_and_304(ann: Device) -> None:
    ann.upload(DATA, meta=metadata(DATA, content_type="image/jpeg"))
    sha = digest(DATA)
    whole = ann.get(sha.upper())
    assert whole.status_code == 200
    assert whole["Content-Type"] == "image/jpeg"
    assert whole["Content-Length"] == "3000"
    assert whole["ETag"] == f'"{sha}"'
    assert whole["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in whole
    assert b"".join(whole.streaming_content) == DATA
    part = ann.get(sha, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == "bytes 100-199/3000"
    assert b"".join(part.streaming_content) == DATA[100:200]
    tail = ann.get(sha, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == DATA[-10:]
    beyond = ann.get(sha, HTTP_RANGE="bytes=5000-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == "bytes */3000"
    cached = ann.get(sha, HTTP_IF_NONE_MATCH=f'"{sha}"')
    assert cached.status_code == 304 and cached.content == b""
    head = ann.api.head(f"/api/sync/files/sha256/{sha}")
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == "3000" and head["ETag"] == f'"{sha}"'


@pytest.mark.parametrize(
    ("declared", "served"),
    [("text/html", "application/octet-stream"), ("image/svg+xml", "application/octet-stream")],
)
def test_active_content_is_served_as_an_attachment(
    ann: Device, declared: str, served: str
) -> None:
    data = b"<script>alert(1)</script>"
    ann.upload(data, meta=metadata(data, content_type=declared))
    answer = ann.get(digest(data))
    assert answer["Content-Type"] == served
    assert answer["Content-Disposition"].startswith("attachment")


def test_the_content_type_is_that_of_the_first_completed_upload(ann: Device) -> None:
    ann.upload(DATA, meta=metadata(DATA, content_type="image/png"))
    ann.upload(DATA, meta=metadata(DATA, content_type="application/pdf"))
    assert ann.get(digest(DATA))["Content-Type"] == "image/png"


def test_an_empty_file(ann: Device) -> None:
    ann.upload(b"")
    answer = ann.get(digest(b""))
    assert answer.status_code == 200 and answer["Content-Length"] == "0"
