"""One tus upload's life: created, patched part by part, completed or terminated.

The HTTP views (:mod:`.views`) read the headers and call these; each ``PATCH`` takes the
upload's lock row-wise (``patching_since``, set by one ``UPDATE``), never a transaction held
while bytes arrive.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import Storage
from django.db.models import Q
from django.utils import timezone

from django_mobile_sync.conf import sync_settings

from .completion import ChecksumMismatch, complete_upload, delete_parts
from .models import Upload
from .storage import (
    CountingReader,
    append_stream,
    cut,
    files_storage,
    local_path,
    part_name,
    save_stream,
)
from .tus import Metadata, TusError

__all__ = ["PatchResult", "create_upload", "patch_upload", "terminate_upload"]


@dataclass(frozen=True)
class PatchResult:
    """What a ``PATCH`` leaves: the upload's offset, and whether that completed it."""

    offset: int
    completed: bool


def create_upload(
    user: Any, scope: dict[str, Any], tenant: str, length: int, meta: Metadata
) -> Upload:
    """A new upload of ``length`` bytes; an empty file is complete at once.

    Raises:
        TusError: ``429``, the user has ``MAX_UPLOADS_IN_PROGRESS`` incomplete uploads;
            ``460``, an empty file declared with another digest.
    """
    limit = sync_settings.MAX_UPLOADS_IN_PROGRESS
    in_progress = Upload.objects.filter(
        user=user, completed_at__isnull=True, expires_at__gt=timezone.now()
    )
    if in_progress.count() >= limit:
        raise TusError(
            429,
            f"You have {limit} uploads in progress (MAX_UPLOADS_IN_PROGRESS): finish or "
            "terminate one first.",
            "too_many_uploads",
        )
    upload = Upload.objects.create(
        user=user,
        tenant=tenant,
        scope=scope,
        sha256=meta.sha256,
        length=length,
        filename=meta.filename,
        content_type=meta.content_type,
        expires_at=timezone.now() + sync_settings.UPLOAD_EXPIRY,
    )
    if length == 0:
        finish(upload)
        upload.refresh_from_db()
    return upload


def patch_upload(
    upload: Upload,
    offset: int,
    read: Callable[[int], bytes],
    content_length: int | None,
    checksum: bytes | None,
) -> PatchResult:
    """Store the bytes of one ``PATCH`` at ``offset`` as a part; complete the upload when
    they are its last.

    Raises:
        TusError: ``409`` (another offset), ``413`` (past ``Upload-Length``), ``423``
            (another ``PATCH`` runs), ``460`` (the chunk's or the whole file's digest).
    """
    if upload.complete:
        if offset != upload.length or content_length:
            raise TusError(409, "This upload is complete.", "upload_complete")
        return PatchResult(upload.offset, True)
    if offset != upload.offset:
        raise TusError(
            409, f"Upload-Offset is {offset}, the upload is at {upload.offset}: HEAD it.", "offset"
        )
    remaining = upload.length - offset
    if content_length is not None and content_length > remaining:
        raise TusError(413, "The chunk goes past Upload-Length.", "past_upload_length")
    lock(upload)
    try:
        return store_part(upload, read, remaining, checksum)
    finally:
        Upload.objects.filter(pk=upload.pk).update(patching_since=None)


def lock(upload: Upload) -> None:
    now = timezone.now()
    stale = now - sync_settings.UPLOAD_LOCK_TIMEOUT
    taken = Upload.objects.filter(
        Q(patching_since__isnull=True) | Q(patching_since__lt=stale),
        pk=upload.pk,
        offset=upload.offset,
        completed_at__isnull=True,
        expires_at__gt=now,
    ).update(patching_since=now)
    if taken:
        return
    current = (
        Upload.objects.filter(pk=upload.pk, expires_at__gt=now)
        .values_list("offset", flat=True)
        .first()
    )
    if current is None:  # expired meanwhile, or removed by purge_files or a DELETE
        raise TusError(404, "This upload does not exist (or has expired).", "not_found")
    if current != upload.offset:
        raise TusError(409, f"The upload is at {current}: HEAD it.", "offset")
    raise TusError(423, "Another PATCH to this upload is running; retry after it.", "locked")


def store_part(
    upload: Upload, read: Callable[[int], bytes], remaining: int, checksum: bytes | None
) -> PatchResult:
    storage = files_storage()
    # A chunk is hashed only when the device sent its checksum: the whole file is hashed
    # when it completes anyway.
    reader = CountingReader(read, remaining + 1, hashing=checksum is not None)
    part = Part.receive(storage, upload, reader)
    if reader.count > remaining:
        part.discard()
        raise TusError(413, "The chunk goes past Upload-Length.", "past_upload_length")
    if reader.interrupted and checksum is not None:
        # A cut-off chunk cannot match its checksum: nothing of it is kept.
        part.discard()
        raise TusError(460, "The chunk was cut off: send it again.", "checksum")
    if reader.digest is not None and not hmac.compare_digest(
        reader.digest.digest(), checksum or b""
    ):
        part.discard()
        raise TusError(460, "Upload-Checksum does not match the chunk: send it again.", "checksum")
    if reader.count == 0:
        part.discard()
        return PatchResult(upload.offset, False)
    new_offset = upload.offset + reader.count
    parts = part.parts(reader.count)
    moved = Upload.objects.filter(pk=upload.pk, offset=upload.offset).update(
        offset=new_offset, parts=parts
    )
    if not moved:  # terminated meanwhile (an appended part went with the upload)
        if part.path is None:
            part.discard()
        raise TusError(404, "This upload does not exist.", "not_found")
    upload.offset, upload.parts = new_offset, parts
    if new_offset < upload.length:
        return PatchResult(new_offset, False)
    finish(upload)
    return PatchResult(new_offset, True)


@dataclass
class Part:
    """Where one ``PATCH``'s bytes went: a new part file, or (on the file system) the end of
    the upload's part, whose first ``kept`` bytes are earlier chunks'."""

    storage: Storage
    upload: Upload
    name: str
    path: str | None = None
    kept: int = 0

    @classmethod
    def receive(cls, storage: Storage, upload: Upload, reader: CountingReader) -> Part:
        """Store what ``reader`` gives. On the file system the chunk is appended to the
        upload's one part, which completion then moves into place without copying it
        (docs/files.md#storage); elsewhere (S3) each chunk is a part of its own."""
        last = upload.parts[-1] if upload.parts else None
        path = local_path(storage, last[2]) if last else None
        if last is not None and path is not None and last[0] + last[1] == upload.offset:
            part = cls(storage, upload, last[2], path, last[1])
            try:
                append_stream(path, last[1], reader)
            except Exception:
                part.discard()
                raise
            return part
        wanted = part_name(upload.pk, upload.offset)
        try:
            return cls(storage, upload, save_stream(storage, wanted, reader))
        except Exception:
            # The device went away mid-chunk (or the storage failed): what was written of
            # the part is dropped, the offset stays, and the device resends from there. No
            # part at this offset is listed in the upload, so the name is safe to delete.
            storage.delete(wanted)
            raise

    def discard(self) -> None:
        """Keep nothing of this chunk."""
        if self.path is not None:
            cut(self.path, self.kept)
        else:
            self.storage.delete(self.name)

    def parts(self, count: int) -> list[Any]:
        """The upload's parts with this chunk's ``count`` bytes."""
        if self.path is not None:
            offset = self.upload.parts[-1][0]
            return [*self.upload.parts[:-1], [offset, self.kept + count, self.name]]
        return [*self.upload.parts, [self.upload.offset, count, self.name]]


def finish(upload: Upload) -> None:
    """Complete ``upload``, or delete it when its bytes do not match its digest (``460``)."""
    try:
        complete_upload(upload)
    except ChecksumMismatch:
        terminate_upload(upload)
        raise TusError(
            460,
            "The file's bytes do not match the sha256 declared at creation; nothing was "
            "stored: create a new upload.",
            "file_checksum",
        ) from None


def terminate_upload(upload: Upload) -> None:
    """Delete the upload and its parts (tus termination, an expiry, a failed digest)."""
    delete_parts(upload)
    Upload.objects.filter(pk=upload.pk).delete()
