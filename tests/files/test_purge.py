"""``manage.py purge_files``: expired uploads go, unreferenced files go after
``FILE_RETENTION``, and a file a live record or an upload in progress refers to never goes
(a property test over random schedules)."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_mobile_sync.files.models import Blob, Upload
from django_mobile_sync.files.purge import purge_files
from django_mobile_sync.files.tenancy import scope_values, tenant_key
from django_mobile_sync.files.tus import Metadata
from django_mobile_sync.files.uploads import create_upload, patch_upload
from tests.files.conftest import Device, digest, files_root, stored_files
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
