"""``manage.py purge_files``: expired uploads, and files no live record has referenced for
``FILE_RETENTION``.

A file is referenced while a live record of its tenant names its digest, or an upload in
progress in its tenant declares it; such a file is never removed. An unreferenced file is
marked (``Blob.unreferenced_since``) and removed once it has stayed unreferenced for
``FILE_RETENTION`` (counted from the mark, or from the latest tombstone that referenced it,
whichever is later): its row in a transaction that locks it and checks again, then its
bytes once that commits. A push that references the file, an upload of the same bytes that
completes, or a ``HEAD files/sha256/<hex>`` that answers ``200`` either commits before that
check (and the file stays) or waits for the removal and finds the file gone
(docs/files.md#clean-up).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connections, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from django_mobile_sync.conf import sync_settings

from .completion import delete_parts, referencing_models, referencing_records
from .models import Blob, Upload
from .storage import files_storage

__all__ = ["FilesPurge", "is_referenced", "purge_files"]


@dataclass(frozen=True)
class FilesPurge:
    """What one run removed: uploads (expired, or finished and past their expiry) and
    files; and how many unreferenced files wait out ``FILE_RETENTION``."""

    uploads: int
    files: int
    waiting: int


def is_referenced(blob: Blob, using: str, now: datetime.datetime) -> bool:
    """Whether a live record or an upload in progress refers to ``blob``."""
    in_progress = Upload.objects.using(using).filter(
        tenant=blob.tenant, sha256=blob.sha256, completed_at__isnull=True, expires_at__gt=now
    )
    if in_progress.exists():
        return True
    return any(
        referencing_records(model, names, blob.sha256, blob.scope, using)
        .filter(deleted=False)
        .exists()
        for model, names in referencing_models()
    )


def last_reference(blob: Blob, using: str) -> datetime.datetime | None:
    """When the latest tombstone that referenced ``blob`` was deleted."""
    times = [
        referencing_records(model, names, blob.sha256, blob.scope, using)
        .filter(deleted=True)
        .aggregate(at=Max("updated_at"))["at"]
        for model, names in referencing_models()
    ]
    return max((t for t in times if t is not None), default=None)


def purge_uploads(using: str, now: datetime.datetime) -> int:
    """Remove the uploads past their expiry, with their parts.

    Each is claimed first as a ``PATCH`` takes it (``patching_since``, :mod:`.uploads`): an
    upload a ``PATCH`` is still storing bytes into stays until the next run, and a ``PATCH``
    that comes after the claim answers ``404``, as for any expired upload.
    """
    count = 0
    uploads = Upload.objects.using(using)
    stale = timezone.now() - sync_settings.UPLOAD_LOCK_TIMEOUT
    free = Q(patching_since__isnull=True) | Q(patching_since__lt=stale)
    for pk in uploads.filter(expires_at__lte=now).values_list("pk", flat=True).iterator():
        if not uploads.filter(free, pk=pk).update(patching_since=timezone.now()):
            continue
        upload = uploads.filter(pk=pk).first()  # its parts as the last PATCH left them
        if upload is not None:
            delete_parts(upload)
            count += uploads.filter(pk=pk).delete()[0]
    return count


def retention_over(blob: Blob, using: str, now: datetime.datetime) -> bool:
    """Whether ``blob``, marked unreferenced, has been so for ``FILE_RETENTION`` by ``now``
    (counted from the mark, or from the latest tombstone that referenced it)."""
    if blob.unreferenced_since is None:
        return False
    tombstoned = last_reference(blob, using) or blob.unreferenced_since
    since: datetime.datetime = max(blob.unreferenced_since, tombstoned)
    retention: datetime.timedelta = sync_settings.FILE_RETENTION
    return now - since >= retention


def remove(blob: Blob, using: str, now: datetime.datetime) -> bool:
    """Remove ``blob`` if it is still due: its row, in a transaction that holds the row
    while it checks again, then its bytes once that commits.

    On PostgreSQL the row is locked ``FOR UPDATE SKIP LOCKED``: a push that references the
    file (``FileReferenceField.hold_referents``) holds it ``FOR KEY SHARE`` until it
    commits, so the file is skipped until the next run; a push, an upload completing or a
    ``HEAD`` that comes after the lock waits for this transaction, then finds the file gone.
    The checks run after the lock, so they see every write that committed before it.
    SQLite runs one writer at a time: the row is written before it is read, which takes the
    write lock even in a transaction not begun ``IMMEDIATE``.
    """
    blobs = Blob.objects.using(using)
    with transaction.atomic(using=using):
        if connections[using].features.has_select_for_update_skip_locked:
            locked = blobs.select_for_update(skip_locked=True).filter(pk=blob.pk).first()
        else:
            blobs.filter(pk=blob.pk).update(unreferenced_since=F("unreferenced_since"))
            locked = blobs.filter(pk=blob.pk).first()
        if locked is None or is_referenced(locked, using, now):
            return False
        if not retention_over(locked, using, now):
            return False
        locked.delete()
        name = locked.name
        transaction.on_commit(lambda: files_storage().delete(name), using=using)
    return True


def purge_files(using: str = "default", now: datetime.datetime | None = None) -> FilesPurge:
    """Remove expired uploads and the files unreferenced for ``FILE_RETENTION``."""
    now = now or timezone.now()
    uploads = purge_uploads(using, now)
    removed = waiting = 0
    blobs = Blob.objects.using(using)
    for blob in blobs.order_by("pk").iterator():
        if is_referenced(blob, using, now):
            if blob.unreferenced_since is not None:
                blobs.filter(pk=blob.pk).update(unreferenced_since=None)
            continue
        if blob.unreferenced_since is None:
            blobs.filter(pk=blob.pk).update(unreferenced_since=now)
            waiting += 1
        elif not retention_over(blob, using, now):
            waiting += 1
        elif remove(blob, using, now):
            removed += 1
    return FilesPurge(uploads, removed, waiting)
