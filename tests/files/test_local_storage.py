"""On the file system an upload is one part, appended to chunk by chunk and moved into place
when the digest matches, without copying its bytes (docs/files.md#storage)."""

from __future__ import annotations

import os

from django_mobile_sync.files.models import Blob, Upload
from tests.files.conftest import Device, chunk_checksum, digest, files_root, stored_files

DATA = os.urandom(9000)


def part_path() -> str:
    [(_offset, _size, name)] = Upload.objects.get().parts
    return str(files_root() / name)


def test_chunks_append_to_one_part_that_becomes_the_file(ann: Device) -> None:
    url = ann.create(DATA)["Location"]
    assert ann.patch(url, DATA[:3000], 0).status_code == 204
    part = part_path()
    # a chunk refused for its checksum keeps nothing of itself
    bad = ann.patch(url, DATA[3000:6000], 3000, **{"Upload-Checksum": chunk_checksum(b"x")})
    assert bad.status_code == 460
    assert os.path.getsize(part) == 3000
    assert ann.patch(url, DATA[3000:6000], 3000).status_code == 204
    assert Upload.objects.get().parts == [[0, 6000, Upload.objects.get().parts[0][2]]]
    assert stored_files() == [files_root() / Upload.objects.get().parts[0][2]]
    inode = os.stat(part).st_ino
    assert ann.patch(url, DATA[6000:], 6000).status_code == 204
    blob = Blob.objects.get()
    assert not os.path.exists(part)
    assert os.stat(files_root() / blob.name).st_ino == inode  # moved, not copied
    assert stored_files() == [files_root() / blob.name]
    assert ann.get(digest(DATA)).getvalue() == DATA


def test_what_a_failed_patch_left_is_cut_off_by_the_next(ann: Device) -> None:
    url = ann.create(DATA)["Location"]
    assert ann.patch(url, DATA[:4000], 0).status_code == 204
    with open(part_path(), "ab") as part:  # a process died mid-chunk
        part.write(b"garbage")
    assert ann.patch(url, DATA[4000:], 4000).status_code == 204
    assert ann.get(digest(DATA)).getvalue() == DATA


def test_a_whole_file_mismatch_moves_nothing(ann: Device) -> None:
    other = os.urandom(len(DATA))
    url = ann.create(DATA)["Location"]
    assert ann.patch(url, other[:5000], 0).status_code == 204
    assert ann.patch(url, other[5000:], 5000).status_code == 460
    assert not Blob.objects.exists() and stored_files() == []


def test_bytes_the_tenant_stores_are_not_moved_again(ann: Device, bob: Device) -> None:
    ann.upload(DATA, chunk=4000)
    [stored] = stored_files()
    bob.upload(DATA, chunk=4000)
    assert stored_files() == [stored] and Blob.objects.count() == 1
