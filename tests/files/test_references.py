"""File references in records: a record pushed before its file pulls as unavailable, and the
upload moves the cursor so it pulls as available (docs/files.md#file-references-in-records)."""

from __future__ import annotations

import os
from typing import Any

from django_mobile_sync.domains import SyncDomain
from tests.files.conftest import Device, digest, metadata
from tests.helpers.api import new_id, pull_all, push
from tests.testapp.models import Org, Scan, Task

PHOTO = os.urandom(4000)


def task_of(org: Org) -> str:
    return str(Task.objects.create(org=org, title="inspect the pump").mobile_id)


def push_scan(device: Device, task: str, file: str, **more: Any) -> Any:
    entry = {"mobile_id": new_id(), "task": task, "file": file, **more}
    answer = push(device.api, [entry], "scans")
    assert answer.status_code == 200, answer.content
    return entry["mobile_id"], answer.json()


def test_a_record_pulls_unavailable_then_available_once_its_file_is_uploaded(
    ann: Device, bob: Device, eve: Device, acme: Org, scans: SyncDomain
) -> None:
    scan, answer = push_scan(ann, task_of(acme), digest(PHOTO).upper(), title="pump")
    assert answer["synced_items"][0]["status"] == "created"
    [item], cursor = pull_all(bob.api, "scans")
    assert item["file"] == digest(PHOTO)  # stored lower-case
    assert (item["file_available"], item["file_size"], item["file_content_type"]) == (
        False,
        None,
        None,
    )
    # Another tenant holding the same bytes changes nothing for this one.
    eve.upload(PHOTO)
    assert pull_all(bob.api, "scans", cursor)[0] == []
    ann.upload(PHOTO, meta=metadata(PHOTO, content_type="image/jpeg"))
    [moved], _ = pull_all(bob.api, "scans", cursor)
    assert moved["mobile_id"] == scan
    assert (moved["file_available"], moved["file_size"], moved["file_content_type"]) == (
        True,
        4000,
        "image/jpeg",
    )
    # The record's digest is what a colleague downloads the bytes with.
    assert b"".join(bob.get(moved["file"]).streaming_content) == PHOTO


def test_a_record_pushed_after_its_file_is_available_at_once(
    ann: Device, acme: Org, scans: SyncDomain
) -> None:
    ann.upload(PHOTO)
    push_scan(ann, task_of(acme), digest(PHOTO))
    [item], _ = pull_all(ann.api, "scans")
    assert item["file_available"] is True and item["file_size"] == 4000


def test_a_bad_digest_is_a_per_item_error(ann: Device, acme: Org, scans: SyncDomain) -> None:
    _scan, answer = push_scan(ann, task_of(acme), "not-a-digest")
    [error] = answer["errors"]
    assert "file" in error["field_errors"]


def test_a_tombstone_carries_no_file_fields(ann: Device, acme: Org, scans: SyncDomain) -> None:
    scan, _ = push_scan(ann, task_of(acme), digest(PHOTO))
    Scan.objects.filter(mobile_id=scan).delete()
    [item], _ = pull_all(ann.api, "scans")
    assert item["deleted"] is True and "file_available" not in item


def test_a_page_of_records_with_files_reads_the_files_in_the_same_query(
    ann: Device, acme: Org, scans: SyncDomain, django_assert_max_num_queries: Any
) -> None:
    task = task_of(acme)
    for n in range(5):
        data = os.urandom(10) + bytes([n])
        ann.upload(data)
        push_scan(ann, task, digest(data))
    with django_assert_max_num_queries(3):
        items, _ = pull_all(ann.api, "scans")
    assert [i["file_available"] for i in items] == [True] * 5
