"""``manage.py purge_files``: expired uploads go, unreferenced files go after
``FILE_RETENTION``, and a file a live record or an upload in progress refers to never goes
(a property test over random schedules)."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_mobile_sync.domains import SyncDomain
from django_mobile_sync.files.models import Blob, Upload
from django_mobile_sync.files.purge import purge_files
from django_mobile_sync.files.tenancy import scope_values, tenant_key
from django_mobile_sync.files.tus import Metadata, TusError
from django_mobile_sync.files.uploads import create_upload, patch_upload
from tests.files.conftest import FILES as FILES_URL
from tests.files.conftest import Device, digest, files_root, stored_files
from tests.helpers.api import new_id, push
from tests.testapp.models import Org, Scan, Task

DAY = timedelta(days=1)


def upload_as(user: User, org: Org, data: bytes, *, finish: bool = True) -> Upload:
    """An upload through the app's own unit of work (what a PATCH runs)."""
    scope = scope_values({"org": org})
    upload = create_upload(
        user, scope, tenant_key(scope), len(data), Metadata(digest(data), "", "image/png")
    )
    if finish and data:
        patch_upload(upload, 0, io.BytesIO(data).read, len(data), None)
    return upload


def test_the_command_removes_expired_uploads_and_old_unreferenced_files(
    ann: Device, acme: Org, django_capture_on_commit_callbacks: Any
) -> None:
    user = User.objects.get(username="ann")
    waiting = upload_as(user, acme, b"half of it", finish=False)
    patch_upload(waiting, 0, io.BytesIO(b"half").read, 4, None)
    upload_as(user, acme, b"kept by nobody")
    Upload.objects.filter(pk=waiting.pk).update(expires_at=timezone.now() - DAY)
    Blob.objects.update(unreferenced_since=timezone.now() - 8 * DAY)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # the bytes, once the rows are gone
        call_command("purge_files", stdout=out)
    assert out.getvalue().strip() == (
        "Purged 1 upload(s) and 1 file(s); 0 unreferenced file(s) wait out FILE_RETENTION"
    )
    assert not Upload.objects.filter(pk=waiting.pk).exists()
    assert not Blob.objects.exists() and stored_files() == []


def test_a_file_a_live_record_references_stays_and_its_tombstone_starts_the_clock(
    ann: Device, acme: Org, django_capture_on_commit_callbacks: Any
) -> None:
    user = User.objects.get(username="ann")
    data = b"the pump, before"
    upload_as(user, acme, data)
    task = Task.objects.create(org=acme, title="t")
    scan = Scan.objects.create(org=acme, task=task, file=digest(data))
    later = timezone.now() + 30 * DAY
    assert purge_files(now=later).files == 0
    assert Blob.objects.get().unreferenced_since is None
    scan.delete()  # a tombstone no longer references its file
    assert purge_files(now=later).waiting == 1  # marked now: FILE_RETENTION from here
    assert purge_files(now=later + 6 * DAY).files == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_files(now=later + 7 * DAY).files == 1
    assert stored_files() == []


def test_an_upload_in_progress_keeps_the_file_it_declares(ann: Device, acme: Org) -> None:
    user = User.objects.get(username="ann")
    data = b"the same bytes, again"
    upload_as(user, acme, data)
    upload_as(user, acme, data, finish=False)
    Blob.objects.update(unreferenced_since=timezone.now() - 30 * DAY)
    assert purge_files().files == 0


def test_a_head_that_answers_200_starts_the_retention_again(ann: Device, acme: Org) -> None:
    """The device that asked skips its upload and pushes its record next: the file it was
    told is there stays for FILE_RETENTION from the HEAD (docs/files.md#clean-up)."""
    data = b"the pump, from the left"
    ann.upload(data)
    Blob.objects.update(unreferenced_since=timezone.now() - 30 * DAY)
    assert ann.head(f"{FILES_URL}sha256/{digest(data)}").status_code == 200
    assert purge_files().files == 0
    assert purge_files(now=timezone.now() + 6 * DAY).files == 0
    assert purge_files(now=timezone.now() + 8 * DAY).files == 1  # nobody pushed the record


def test_an_upload_of_bytes_the_tenant_stores_starts_the_retention_again(
    ann: Device, bob: Device, acme: Org
) -> None:
    data = b"the pump, from the right"
    ann.upload(data)
    Blob.objects.update(unreferenced_since=timezone.now() - 30 * DAY)
    bob.upload(data)  # deduplicated: its record comes next
    assert purge_files().files == 0
    assert Blob.objects.count() == 1


def test_an_expired_upload_a_patch_is_writing_to_stays_until_the_patch_ends(
    ann: Device, acme: Org
) -> None:
    """purge_files claims an expired upload as a PATCH does: never one a PATCH holds."""
    user = User.objects.get(username="ann")
    upload = upload_as(user, acme, b"half of it", finish=False)
    patch_upload(upload, 0, io.BytesIO(b"half").read, 4, None)
    Upload.objects.filter(pk=upload.pk).update(
        expires_at=timezone.now() - DAY, patching_since=timezone.now()
    )
    assert purge_files().uploads == 0
    assert stored_files() != []  # its part, still being written
    Upload.objects.filter(pk=upload.pk).update(patching_since=None)  # the PATCH ended
    assert purge_files().uploads == 1
    assert stored_files() == [] and not Upload.objects.exists()


def test_a_patch_that_comes_after_purge_files_removed_its_upload_answers_404(
    ann: Device, acme: Org
) -> None:
    """The PATCH read its upload before it expired; the purge removed it meanwhile."""
    user = User.objects.get(username="ann")
    upload = upload_as(user, acme, b"half of it", finish=False)
    Upload.objects.filter(pk=upload.pk).update(expires_at=timezone.now() - DAY)
    assert purge_files().uploads == 1
    with pytest.raises(TusError) as raised:
        patch_upload(upload, 0, io.BytesIO(b"half").read, 4, None)
    assert raised.value.status_code == 404
    assert stored_files() == []


def test_a_push_holds_its_files_in_one_statement_whatever_its_size(
    ann: Device, acme: Org, scans: SyncDomain
) -> None:
    """The lock that keeps purge_files off the files a push references costs one statement
    per push (PostgreSQL; none on SQLite, which runs one writer at a time)."""
    task = str(Task.objects.create(org=acme, title="t").mobile_id)
    for n in range(3):
        ann.upload(b"stored %d" % n)

    def push_of(n: int) -> list[str]:
        files = [digest(b"stored %d" % (i % 5)) for i in range(n)]  # 3 stored, 2 not
        entries = [{"mobile_id": new_id(), "task": task, "file": f} for f in files]
        with CaptureQueriesContext(connection) as ctx:
            answer = push(ann.api, entries, "scans")
        assert answer.status_code == 200, answer.content
        assert [i["status"] for i in answer.json()["synced_items"]] == ["created"] * n
        return [q["sql"] for q in ctx.captured_queries]

    push_of(1)  # warm-up: the first push creates the throttle counters' rows
    one, many = push_of(1), push_of(40)
    assert len(one) == len(many), "\n".join(many)
    locks = [sql for sql in many if "FOR KEY SHARE" in sql and Blob._meta.db_table in sql]
    assert len(locks) == (1 if connection.vendor == "postgresql" else 0)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 3), st.integers(0, 2)),
        st.tuples(st.just("delete"), st.integers(0, 3)),
        st.tuples(st.just("upload"), st.integers(0, 2)),
        st.tuples(st.just("purge"), st.integers(0, 10)),
    ),
    max_size=14,
)
FILES = [b"photo %d" % n for n in range(3)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(schedule=operations)
def test_no_schedule_removes_a_file_a_live_record_references(
    ann: Device, acme: Org, schedule: list[tuple[Any, ...]]
) -> None:
    Scan.all_objects.all().hard_delete()
    Blob.objects.all().delete()
    Upload.objects.all().delete()
    user = User.objects.get(username="ann")
    task = Task.objects.get_or_create(org=acme, title="t")[0]
    records: dict[int, uuid.UUID] = {}
    now = timezone.now()
    for op in schedule:
        if op[0] == "push":
            scan = Scan.objects.create(org=acme, task=task, file=digest(FILES[op[2]]))
            records[op[1]] = scan.mobile_id
        elif op[0] == "delete" and op[1] in records:
            Scan.objects.filter(mobile_id=records.pop(op[1])).delete()
        elif op[0] == "upload":
            upload_as(user, acme, FILES[op[1]])
        elif op[0] == "purge":
            now += op[1] * DAY
            before = set(Blob.objects.values_list("sha256", flat=True))
            purge_files(now=now)
            after = set(Blob.objects.values_list("sha256", flat=True))
            live = set(Scan.all_objects.filter(deleted=False).values_list("file", flat=True))
            assert before & live <= after, "a file a live record references was removed"
            names = {str(p.relative_to(files_root())) for p in stored_files()}
            assert set(Blob.objects.values_list("name", flat=True)) <= names


def test_the_settings_of_the_files_app_are_checked(settings: Any) -> None:
    from django_mobile_sync.files.checks import check_files_settings

    assert check_files_settings() == []
    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "MAX_FILE_BYTES": "100MB",
        "FILE_RETENTION": 7,
        "FILES_STORAGE": "nowhere",
    }
    errors = check_files_settings()
    assert [e.id for e in errors] == ["django_mobile_sync.E014"] * 3
    assert "MOBILE_SYNC['FILES_STORAGE'] must be an alias of settings.STORAGES" in errors[2].msg
