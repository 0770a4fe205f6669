"""``manage.py purge_files``: expired uploads, and files no live record has referenced for
``FILE_RETENTION``.

A file is referenced while a live record of its tenant names its digest, or an upload in
progress in its tenant declares it; such a file is never removed. An unreferenced file is
marked (``Blob.unreferenced_since``) and removed once it has stayed unreferenced for
``FILE_RETENTION`` (counted from the mark, or from the latest tombstone that referenced it,
whichever is later), its row first, in a transaction that checks again, then its bytes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
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
    count = 0
    for upload in Upload.objects.using(using).filter(expires_at__lte=now).iterator():
        delete_parts(upload)
        count += Upload.objects.using(using).filter(pk=upload.pk).delete()[0]
    return count


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
            continue
        tombstoned = last_reference(blob, using) or blob.unreferenced_since
        since = max(blob.unreferenced_since, tombstoned)
        if now - since < sync_settings.FILE_RETENTION:
            waiting += 1
            continue
        with transaction.atomic(using=using):
            locked = blobs.select_for_update().filter(pk=blob.pk).first()
            if locked is None or is_referenced(locked, using, now):
                continue
            locked.delete()
        files_storage().delete(blob.name)
        removed += 1
    return FilesPurge(uploads, removed, waiting)
