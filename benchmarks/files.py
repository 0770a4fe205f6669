"""Files benchmark (docs/files.md): a resumable upload against writing the same bytes
straight to the same storage, its memory, and the cost of a duplicate.

- **throughput**: a file of ``--mib`` MiB (100 by default) uploaded through HTTP with tus in
  5 MiB ``PATCH`` chunks (appended to the upload's one part on the file system; the last one
  verifies the digest and moves the part into place), against
  ``storage.save()`` of the same bytes, streamed, interleaved over ``--runs`` runs. Target:
  the upload reaches at least 0.5x the direct write's throughput.
- **memory**: the peak of Python allocations (tracemalloc) during an upload of a file of
  ``--mib`` MiB and of one a fifth of that size: flat in the file's size (a ratio near 1).
- **duplicate**: a second device of the tenant with the same bytes asks
  ``HEAD files/sha256/<hex>`` and sends nothing: one request, no bytes.

The file's bytes are generated chunk by chunk (never the whole file in this process).
Usage: ``python -m benchmarks.files --backend sqlite --mib 100 --runs 3``; prints one
``BENCH-RESULT`` JSON line.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import io
import random
import shutil
import tracemalloc
from collections.abc import Iterator
from typing import Any

from benchmarks.common import drop, emit, make_user, median, setup, timed

MiB = 1024 * 1024
CHUNK = 5 * MiB
TUS = {"Tus-Resumable": "1.0.0"}


def chunks(size: int, seed: int) -> Iterator[bytes]:
    """The file's bytes, ``CHUNK`` at a time, the same for the same seed."""
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(CHUNK, left)
        yield rng.randbytes(n)
        left -= n


def digest_of(size: int, seed: int) -> str:
    sha = hashlib.sha256()
    for chunk in chunks(size, seed):
        sha.update(chunk)
    return sha.hexdigest()


class ChunkStream(io.RawIOBase):
    """The generated file as a readable stream (the direct write's source)."""

    def __init__(self, size: int, seed: int) -> None:
        super().__init__()
        self._chunks = chunks(size, seed)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._buffer:
            self._buffer = next(self._chunks, b"")
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


class Bench:
    def __init__(self) -> None:
        from rest_framework.test import APIClient

        self.user, token = make_user("files")
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        _colleague, other = make_user("colleague", org=self.user.member.org)
        self.colleague = APIClient()
        self.colleague.credentials(HTTP_AUTHORIZATION=f"Token {other}")

    def upload(self, size: int, seed: int, sha: str, collect: bool = False) -> str:
        """Upload the file (whose digest the device knows: it took the photo).

        ``collect``: free the test client's requests after each chunk (they hold the chunk
        in reference cycles), so that the memory measured is the server's.
        """
        meta = "sha256 " + base64.b64encode(sha.encode()).decode()
        created = self.api.post(
            "/api/sync/files/",
            headers={**TUS, "Upload-Length": str(size), "Upload-Metadata": meta},
        )
        assert created.status_code == 201, created.content
        offset = 0
        for chunk in chunks(size, seed):
            answer = self.api.generic(
                "PATCH",
                created["Location"],
                chunk,  # type: ignore[arg-type]
                content_type="application/offset+octet-stream",
                headers={**TUS, "Upload-Offset": str(offset)},
            )
            assert answer.status_code == 204, answer.content
            offset += len(chunk)
            del answer
            if collect:
                gc.collect()
        return sha

    def direct(self, size: int, seed: int) -> None:
        from django.core.files import File
        from django.core.files.storage import storages

        storage = storages["default"]
        name = storage.save(f"direct/{seed}", File(io.BufferedReader(ChunkStream(size, seed))))
        storage.delete(name)

    def duplicate(self, sha: str) -> dict[str, Any]:
        answer = self.colleague.head(f"/api/sync/files/sha256/{sha}")
        return {"requests": 1, "status": answer.status_code, "bytes_sent": 0}


def peak_mib(action: Any) -> float:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / MiB
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    db = "bench_dms_files"
    setup(args.backend, db)
    from django.conf import settings

    size = args.mib * MiB
    bench = Bench()
    upload_s, direct_s, sha = [], [], ""
    for run in range(args.runs):
        digest = digest_of(size, run)
        seconds, sha = timed(lambda run=run, digest=digest: bench.upload(size, run, digest))
        upload_s.append(seconds)
        direct_s.append(timed(lambda run=run: bench.direct(size, seed=run))[0])
    small = max(size // 5, 3 * CHUNK)  # several chunks: the client holds one or two
    small_sha, large_sha = digest_of(small, 1000), digest_of(size, 1001)
    memory = {
        "small_mib": small / MiB,
        "small_peak_mib": peak_mib(lambda: bench.upload(small, 1000, small_sha, collect=True)),
        "large_mib": size / MiB,
        "large_peak_mib": peak_mib(lambda: bench.upload(size, 1001, large_sha, collect=True)),
    }
    memory["ratio"] = memory["large_peak_mib"] / memory["small_peak_mib"]
    result = {
        "files": {
            "mib": args.mib,
            "chunk_mib": CHUNK / MiB,
            "upload_s": upload_s,
            "direct_s": direct_s,
            "upload_mib_s": size / MiB / median(upload_s),
            "direct_mib_s": size / MiB / median(direct_s),
            "throughput_ratio": median(direct_s) / median(upload_s),
            "memory": memory,
            "duplicate": bench.duplicate(sha),
        }
    }
    drop(args.backend, db)
    shutil.rmtree(settings.STORAGES["default"]["OPTIONS"]["location"], ignore_errors=True)
    emit(result)


if __name__ == "__main__":
    main()
