"""tus 1.0.0 at ``{prefix}files/``, through HTTP: discovery, creation, resume, every error
code, termination, expiry and ownership (docs/files.md#uploading)."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from django_mobile_sync.files.models import Blob, Upload
from tests.files.conftest import (
    FILES,
    TUS,
    Device,
    chunk_checksum,
    digest,
    metadata,
    stored_files,
)

DATA = os.urandom(5000)


def test_options_needs_no_authentication_and_names_what_is_served() -> None:
    answer = APIClient().options(FILES)
    assert answer.status_code == 204
    assert answer["Tus-Resumable"] == "1.0.0"
    assert answer["Tus-Version"] == "1.0.0"
    assert set(answer["Tus-Extension"].split(",")) >= {
        "creation",
        "checksum",
        "termination",
        "expiration",
    }
    assert answer["Tus-Max-Size"] == str(100 * 1024 * 1024)
    assert "sha256" in answer["Tus-Checksum-Algorithm"].split(",")


def test_an_upload_in_chunks_resumes_after_an_interruption(ann: Device) -> None:
    created = ann.create(DATA, **{"Upload-Metadata": metadata(DATA, content_type="image/png")})
    assert created.status_code == 201, created.content
    url = created["Location"]
    assert created["Upload-Expires"].endswith("GMT")
    assert ann.patch(url, DATA[:2000], 0)["Upload-Offset"] == "2000"
    # The connection drops: the device asks where to go on.
    head = ann.head(url)
    assert head.status_code == 200
    assert (head["Upload-Offset"], head["Upload-Length"]) == ("2000", "5000")
    assert head["Cache-Control"] == "no-store"
    assert "Upload-Expires" in head
    last = ann.patch(url, DATA[2000:], 2000, **{"Upload-Checksum": chunk_checksum(DATA[2000:])})
    assert last.status_code == 204 and last["Upload-Offset"] == "5000"
    assert "Upload-Expires" not in last
    blob = Blob.objects.get(sha256=digest(DATA))
    assert (blob.size, blob.content_type) == (5000, "image/png")
    assert len(stored_files()) == 1  # the parts are gone, the file stays
    assert ann.get(digest(DATA)).getvalue() == DATA
    assert ann.head(url)["Upload-Offset"] == "5000"


def test_unauthenticated_is_401() -> None:
    api = APIClient()
    answer = api.post(FILES, headers={**TUS, "Upload-Length": "1"})
    assert answer.status_code == 401
    assert answer.json()["code"] == "not_authenticated"


def test_tus_resumable_missing_or_other_is_412(ann: Device) -> None:
    for headers in ({}, {"Tus-Resumable": "0.2.2"}):
        answer = ann.api.post(
            FILES, headers={**headers, "Upload-Length": "5", "Upload-Metadata": metadata(b"x")}
        )
        assert answer.status_code == 412, answer.content
        assert answer["Tus-Resumable"] == "1.0.0"
    url = ann.create(DATA)["Location"]
    answer = ann.api.generic(
        "PATCH",
        url,
        DATA,  # type: ignore[arg-type]
        content_type="application/offset+octet-stream",
        headers={"Upload-Offset": "0"},
    )
    assert answer.status_code == 412


def test_creation_errors(ann: Device, settings: Any) -> None:
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "MAX_FILE_BYTES": 1000}
    too_big = ann.create(DATA)
    assert too_big.status_code == 413 and too_big.json()["code"] == "file_too_large"
    for meta in ("", metadata(sha="abc"), "sha256 !!!", metadata(sha="g" * 64)):
        answer = ann.api.post(
            FILES, headers={**TUS, "Upload-Length": "10", "Upload-Metadata": meta}
        )
        assert answer.status_code == 400, meta
        assert answer.json()["detail"]
    for length in ("", "-1", "ten", "1" * 30):
        answer = ann.api.post(
            FILES, headers={**TUS, "Upload-Length": length, "Upload-Metadata": metadata(b"x")}
        )
        assert answer.status_code == 400, length
    upper = ann.api.post(
        FILES,
        headers={
            **TUS,
            "Upload-Length": "1",
            "Upload-Metadata": metadata(sha=digest(b"x").upper()),
        },
    )
    assert upper.status_code == 201
    assert Upload.objects.get().sha256 == digest(b"x")


def test_patch_errors(ann: Device, settings: Any) -> None:
    url = ann.create(DATA)["Location"]
    assert ann.patch(url, DATA[:10], 5).status_code == 409
    assert ann.patch(url, DATA[:10], 0, content_type="application/json").status_code == 415
    assert ann.patch(url, DATA + b"more", 0).status_code == 413
    bad_algorithm = ann.patch(url, DATA[:10], 0, **{"Upload-Checksum": "md5 AAAA"})
    assert bad_algorithm.status_code == 400
    assert ann.patch(url, DATA[:10], 0, **{"Upload-Offset": "x"}).status_code == 400
    mismatch = ann.patch(url, DATA[:10], 0, **{"Upload-Checksum": chunk_checksum(b"other")})
    assert mismatch.status_code == 460 and mismatch.reason_phrase == "Checksum Mismatch"
    assert ann.head(url)["Upload-Offset"] == "0"  # nothing of that chunk kept
    assert stored_files() == []
    # Another PATCH of the same upload is running.
    Upload.objects.update(patching_since=timezone.now())
    assert ann.patch(url, DATA[:10], 0).status_code == 423
    Upload.objects.update(patching_since=timezone.now() - timedelta(hours=1))
    assert ann.patch(url, DATA[:10], 0).status_code == 204  # a crashed PATCH's lock expired


def test_a_whole_file_mismatch_is_460_and_stores_nothing(ann: Device) -> None:
    created = ann.api.post(
        FILES,
        headers={**TUS, "Upload-Length": str(len(DATA)), "Upload-Metadata": metadata(b"other")},
    )
    url = created["Location"]
    assert ann.patch(url, DATA[:3000], 0).status_code == 204
    answer = ann.patch(url, DATA[3000:], 3000)
    assert answer.status_code == 460
    assert answer.json()["code"] == "file_checksum"
    assert ann.head(url).status_code == 404
    assert not Blob.objects.exists() and stored_files() == []


def test_termination(ann: Device) -> None:
    url = ann.create(DATA)["Location"]
    ann.patch(url, DATA[:100], 0)
    assert ann.api.delete(url, headers=TUS).status_code == 204
    assert ann.head(url).status_code == 404
    assert ann.api.delete(url, headers=TUS).status_code == 404
    assert stored_files() == []


def test_an_expired_upload_is_gone(ann: Device) -> None:
    url = ann.create(DATA)["Location"]
    Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert ann.head(url).status_code == 404
    assert ann.patch(url, DATA, 0).status_code == 404


def test_uploads_belong_to_their_user(ann: Device, bob: Device, eve: Device) -> None:
    url = ann.create(DATA)["Location"]
    for other in (bob, eve):
        assert other.head(url).status_code == 404
        # The owner check comes first: even without Tus-Resumable it is a 404.
        assert other.api.head(url).status_code == 404
        assert other.patch(url, DATA, 0).status_code == 404
        assert other.api.delete(url, headers=TUS).status_code == 404
    assert ann.head(url)["Upload-Offset"] == "0"


def test_a_malformed_upload_url_is_a_json_404(ann: Device) -> None:
    assert ann.head(f"{FILES}not-an-upload").status_code == 404


def test_a_chunk_cut_off_midway_is_resumed_from_the_offset_kept(ann: Device) -> None:
    url = ann.create(DATA)["Location"]
    assert ann.patch(url, DATA[:1000], 0).status_code == 204
    # The device announced 3000 bytes and its connection dropped after 1200: the test
    # client's body fails the read as a dropped connection does under a WSGI server.
    answer = ann.api.generic(
        "PATCH",
        url,
        DATA[1000:2200],  # type: ignore[arg-type]
        content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": "1000"},
        CONTENT_LENGTH="3000",
    )
    assert answer.status_code == 204
    offset = int(ann.head(url)["Upload-Offset"])
    assert offset == int(answer["Upload-Offset"]) and 1000 <= offset <= 2200
    assert ann.patch(url, DATA[offset:], offset).status_code == 204
    assert b"".join(ann.get(digest(DATA)).streaming_content) == DATA


def test_a_user_of_no_tenant_is_refused(db: Any) -> None:
    from tests.files.conftest import device_of

    nobody = device_of("nobody", None)
    answer = nobody.create(DATA)
    assert answer.status_code == 403 and answer.json()["detail"]


def test_an_upload_stays_with_the_tenant_its_user_left(ann: Device) -> None:
    from tests.testapp.models import Member, Org

    url = ann.create(DATA)["Location"]
    Member.objects.filter(user__username="ann").update(org=Org.objects.create(name="new job"))
    ann.api.force_authenticate(User.objects.get(username="ann"))  # a new request's user
    assert ann.head(url).status_code == 404


@pytest.mark.postgres
def test_a_patch_while_another_runs_is_423_in_real_threads(ann: Device) -> None:
    """Two PATCHes of one upload at once, from two threads on their own connections: the
    second answers 423 while the first is still receiving its bytes, and no lock or
    transaction is held meanwhile (the second one's queries run)."""
    import threading

    from django.db import connections

    from django_mobile_sync.files.tus import TusError
    from django_mobile_sync.files.uploads import patch_upload

    url = ann.create(DATA)["Location"]
    upload = Upload.objects.get()
    receiving, release = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}

    body = io.BytesIO(DATA)

    def slow_body(size: int) -> bytes:
        receiving.set()
        release.wait(10)
        return body.read(size)

    def first() -> None:
        try:
            outcomes["first"] = patch_upload(Upload.objects.get(), 0, slow_body, 5000, None)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert receiving.wait(10)
        with pytest.raises(TusError) as refused:
            patch_upload(Upload.objects.get(pk=upload.pk), 0, io.BytesIO(DATA).read, 5000, None)
        assert refused.value.status_code == 423
    finally:
        release.set()
        thread.join(10)
    assert outcomes["first"].completed
    assert ann.head(url)["Upload-Offset"] == "5000"


def test_a_user_has_a_bounded_number_of_uploads_in_progress(ann: Device, settings: Any) -> None:
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "MAX_UPLOADS_IN_PROGRESS": 2}
    first = ann.create(DATA)["Location"]
    assert ann.create(DATA).status_code == 201
    refused = ann.create(DATA)
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_uploads"
    ann.api.delete(first, headers=TUS)
    assert ann.create(DATA).status_code == 201


@pytest.mark.parametrize("upload_id", ["not-a-uuid", "null,null", "sha256"])
def test_a_malformed_upload_id_is_the_json_404_of_an_unknown_upload(
    ann: Device, upload_id: str
) -> None:
    answer = ann.patch(f"{FILES}{upload_id}", b"x", 0)
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    assert ann.api.delete(f"{FILES}{upload_id}", headers=TUS).json()["code"] == "not_found"
