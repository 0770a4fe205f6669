"""Bytes in Django storage: an upload's parts, streamed in, and the file they assemble into.

Nothing here holds a whole file (or a whole chunk) in memory: a ``PATCH`` body is read in
blocks of :data:`BLOCK` bytes into one part file, and the parts are read back in blocks to
verify the digest and write the file. Any storage of ``settings.STORAGES`` works (the file
system, S3 through django-storages): only ``save()``, ``open()`` and ``delete()`` are used.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from django_mobile_sync.conf import sync_settings

__all__ = [
    "BLOCK",
    "CountingReader",
    "PartsReader",
    "append_stream",
    "blob_name",
    "cut",
    "files_storage",
    "local_path",
    "move_file",
    "part_name",
    "read_range",
]

#: How many bytes are read or written at once.
BLOCK = 256 * 1024


def files_storage() -> Storage:
    """The storage of ``FILES_STORAGE`` (an alias of ``settings.STORAGES``)."""
    return storages[sync_settings.FILES_STORAGE]


def part_name(upload_id: Any, offset: int) -> str:
    return f"{sync_settings.FILES_LOCATION}/uploads/{upload_id}/{offset:020d}.part"


def blob_name(tenant: str, sha256: str, upload_id: Any) -> str:
    """Where an upload writes its file: a name of its own, so that no two uploads (racing
    to store the same bytes, or one storing them while the clean-up deletes an old copy)
    ever write or delete one another's object, on storages that overwrite (S3) too."""
    return f"{sync_settings.FILES_LOCATION}/files/{tenant[:16]}/{sha256[:2]}/{sha256}.{upload_id}"


class CountingReader(io.RawIOBase):
    """A readable over ``read`` (a request body) that counts what passes (and hashes it,
    when ``hashing``), and stops after ``limit`` bytes (more is left unread: the caller
    compares ``count``)."""

    def __init__(self, read: Callable[[int], bytes], limit: int, hashing: bool = True) -> None:
        super().__init__()
        self._read = read
        self.remaining = limit
        self.count = 0
        self.digest = hashlib.sha256() if hashing else None
        #: The body ended before its Content-Length: the device's connection dropped.
        self.interrupted = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.remaining, BLOCK)
        if size <= 0 or self.interrupted:
            return 0
        try:
            data = self._read(size)
        except Exception:  # the WSGI server's error for a client gone mid-body
            self.interrupted = True
            return 0
        n = len(data)
        buffer[:n] = data
        self.remaining -= n
        self.count += n
        if self.digest is not None:
            self.digest.update(data)
        return n


class PartsReader(io.RawIOBase):
    """The parts of an upload read back as one stream, hashed as they pass."""

    def __init__(self, storage: Storage, names: Sequence[str]) -> None:
        super().__init__()
        self._storage = storage
        self._names = list(names)
        self._current: Any = None
        self.count = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self._current is None:
                if not self._names:
                    return 0
                self._current = self._storage.open(self._names.pop(0), "rb")
            data = self._current.read(min(len(buffer), BLOCK))
            if data:
                n = len(data)
                buffer[:n] = data
                self.count += n
                self.digest.update(data)
                return n
            self._current.close()
            self._current = None

    def drain(self) -> None:
        """Read to the end (to hash the parts without writing them anywhere)."""
        while self.read(BLOCK):
            pass

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        super().close()


def save_stream(storage: Storage, name: str, reader: io.RawIOBase) -> str:
    """Write ``reader`` to ``storage`` as ``name``, streamed; the name the storage chose."""
    return storage.save(name, File(io.BufferedReader(reader, BLOCK), name=name))


def read_range(storage: Storage, name: str, start: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of a stored file from ``start``, in blocks."""
    with storage.open(name, "rb") as handle:
        if start:
            handle.seek(start)
        left = length
        while left > 0:
            data = handle.read(min(BLOCK, left))
            if not data:
                return
            left -= len(data)
            yield data


# -- the file system: one part per upload, moved into place (docs/files.md#storage) ----------
def local_path(storage: Storage, name: str) -> str | None:
    """The path of ``name`` when ``storage`` is the file system (where a part can be
    appended to and moved), else ``None``."""
    if not isinstance(storage, FileSystemStorage):
        return None
    return str(storage.path(name))


def append_stream(path: str, size: int, reader: io.RawIOBase) -> None:
    """Append ``reader`` to the file ``path`` after its first ``size`` bytes: whatever
    follows them (what a failed ``PATCH`` left) is cut off first."""
    with open(path, "r+b") as handle:
        handle.truncate(size)
        handle.seek(size)
        while block := reader.read(BLOCK):
            handle.write(block)


def cut(path: str, size: int) -> None:
    """Cut the file ``path`` back to ``size`` bytes (gone already: nothing to do)."""
    with contextlib.suppress(FileNotFoundError):
        os.truncate(path, size)


def move_file(storage: Storage, path: str, name: str) -> str:
    """Move the local file ``path`` to ``name`` of the file system ``storage``, without
    copying its bytes; ``name``."""
    target = str(storage.path(name))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.replace(path, target)
    return name
