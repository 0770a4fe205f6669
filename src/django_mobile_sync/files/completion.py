"""The last byte of an upload: verify the whole file, store it once per tenant, and move the
cursor of the records that reference it, so devices pull them as available."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import IO, Any

from django.apps import apps
from django.db import IntegrityError, models, router, transaction
from django.db.models import Q
from django.utils import timezone

from django_mobile_sync.models import SyncableModelMixin

from .fields import file_reference_fields
from .models import Blob, Upload
from .storage import (
    BLOCK,
    CountingReader,
    PartsReader,
    blob_name,
    files_storage,
    local_path,
    move_file,
    save_stream,
)
from .tenancy import scope_values, tenant_key

__all__ = [
    "ChecksumMismatch",
    "complete_upload",
    "delete_parts",
    "referencing_records",
    "store_file",
]


class ChecksumMismatch(Exception):
    """The assembled bytes do not have the digest the upload declared."""


def referencing_models() -> Iterator[tuple[type[models.Model], list[str]]]:
    """Every synced model with file references, and the names of those fields."""
    for model in apps.get_models():
        if issubclass(model, SyncableModelMixin):
            names = [field.attname for field in file_reference_fields(model)]
            if names:
                yield model, names


def referencing_records(
    model: type[models.Model],
    names: list[str],
    sha256: str,
    scope: dict[str, Any],
    using: str | None = None,
) -> Any:
    """The records of ``model`` in the tenant ``scope`` (JSON values) whose file references
    name ``sha256``, tombstones included, on ``using`` (by default where the model is
    written)."""
    condition = Q()
    for name in names:
        condition |= Q(**{name: sha256})
    fields = {field.name for field in model._meta.concrete_fields}
    tenant = {f"{key}": value for key, value in scope.items() if key in fields}
    using = using or router.db_for_write(model)
    return model.sync_queryset(using).filter(condition, **tenant)  # type: ignore[attr-defined]


def delete_parts(upload: Upload) -> None:
    """Delete the part files of ``upload`` (those already gone are skipped)."""
    storage = files_storage()
    for _offset, _size, name in upload.parts:
        storage.delete(name)


def complete_upload(upload: Upload) -> Blob:
    """Assemble ``upload``'s parts into its tenant's file, after checking the digest.

    The file becomes visible (a :class:`Blob` row) only once its bytes are stored and match
    the declared ``sha256``; bytes the tenant already stores are only hashed, not written
    again. Then every live record of the tenant that references the file is stamped (a new
    ``change_seq``), so devices pull it again with ``<field>_available: true``.

    Raises:
        ChecksumMismatch: the bytes do not match; nothing was stored and the upload's parts
            are left for the caller to delete.
    """
    storage = files_storage()
    existing = stored_blob(upload.tenant, upload.sha256)
    names = [name for _offset, _size, name in upload.parts]
    # On the file system the upload is one part: hashed as stored, then moved into place.
    local = local_path(storage, names[0]) if len(names) == 1 else None
    reader = PartsReader(storage, names)
    written = ""
    try:
        if existing is not None or local is not None:
            reader.drain()
        else:
            name = blob_name(upload.tenant, upload.sha256, upload.pk)
            written = save_stream(storage, name, reader)
    finally:
        reader.close()
    if reader.digest.hexdigest() != upload.sha256 or reader.count != upload.length:
        if written:
            storage.delete(written)
        raise ChecksumMismatch(upload.sha256)
    if existing is None and local is not None:
        written = move_file(storage, local, blob_name(upload.tenant, upload.sha256, upload.pk))
    blob = existing or publish(upload, written)
    stamp_references(blob)
    delete_parts(upload)
    Upload.objects.filter(pk=upload.pk).update(
        completed_at=timezone.now(), parts=[], patching_since=None
    )
    return blob


def stored_blob(tenant: str, sha256: str) -> Blob | None:
    """The tenant's file of ``sha256``, if stored. Stored again, it starts its
    ``FILE_RETENTION`` again (a record that references it comes next), once any
    ``purge_files`` removing it right now has committed: then it is ``None``, and the bytes
    are stored anew (docs/files.md#clean-up)."""
    blobs = Blob.objects.filter(tenant=tenant, sha256=sha256)
    blobs.filter(unreferenced_since__isnull=False).update(unreferenced_since=timezone.now())
    return blobs.first()


def publish(upload: Upload, written: str) -> Blob:
    """The tenant's ``Blob`` for the bytes just written (another upload may have won)."""
    return publish_blob(
        upload.tenant, upload.scope, upload.sha256, upload.length, upload.content_type, written
    )


def publish_blob(
    tenant: str, scope: dict[str, Any], sha256: str, size: int, content_type: str, written: str
) -> Blob:
    try:
        with transaction.atomic():
            return Blob.objects.create(
                tenant=tenant,
                scope=scope,
                sha256=sha256,
                size=size,
                content_type=content_type,
                name=written,
                unreferenced_since=timezone.now(),
            )
    except IntegrityError:
        blob = Blob.objects.get(tenant=tenant, sha256=sha256)
        files_storage().delete(written)
        return blob


def store_file(
    scope: Mapping[str, Any], content: IO[bytes], content_type: str = "application/octet-stream"
) -> Blob:
    """Store a file the server has (a seed, a generated report) for the tenant ``scope``, as
    a completed upload would: streamed, once per tenant, and the live records that reference
    it stamped. ``content`` is read twice (to hash it, then to write it): a file opened for
    reading, or a ``BytesIO``."""
    values = scope_values(scope)
    tenant = tenant_key(values)
    hashing = CountingReader(content.read, 2**62)
    while hashing.read(BLOCK):
        pass
    assert hashing.digest is not None
    sha256 = hashing.digest.hexdigest()
    blob = stored_blob(tenant, sha256)
    if blob is None:
        content.seek(0)
        name = blob_name(tenant, sha256, uuid.uuid4())
        source = CountingReader(content.read, 2**62, hashing=False)
        written = save_stream(files_storage(), name, source)
        blob = publish_blob(tenant, values, sha256, hashing.count, content_type, written)
    stamp_references(blob)
    return blob


def stamp_references(blob: Blob) -> int:
    """Give every live record of the tenant that references ``blob`` a new ``change_seq``
    (and version): a plain ``update()`` of the synced queryset. How many were stamped."""
    stamped = 0
    for model, names in referencing_models():
        records = referencing_records(model, names, blob.sha256, blob.scope).filter(deleted=False)
        stamped += records.update()
    return stamped
