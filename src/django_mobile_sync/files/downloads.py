"""Serving a tenant's file by digest: ``ETag``, ``Range`` (``206``, ``416``),
``If-None-Match`` (``304``), and a content type a browser cannot be tricked by.

Another tenant's digest is a ``404`` exactly like a digest nobody stored.
"""

from __future__ import annotations

import re

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from rest_framework.request import Request

from .models import Blob
from .storage import files_storage, read_range
from .tus import SHA256_HEX, TusError

__all__ = ["SAFE_TYPES", "blob_response", "served_type"]

#: Content types served as they were uploaded; any other is served as a download of
#: ``application/octet-stream``, so a device cannot plant a page the API's origin serves.
SAFE_TYPES = re.compile(
    r"^(image/(png|jpeg|gif|webp|heic|heif|avif|bmp|tiff)|application/pdf|audio/[a-z0-9.+-]+"
    r"|video/[a-z0-9.+-]+|text/plain)$"
)
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def served_type(content_type: str) -> tuple[str, bool]:
    """The ``Content-Type`` a file is served with, and whether it is an attachment."""
    if SAFE_TYPES.match(content_type):
        return content_type, False
    return "application/octet-stream", True


def not_found() -> TusError:
    return TusError(404, "No such file.", "not_found")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end inclusive)`` of a single ``bytes=`` range; ``None`` to send it all.

    Raises:
        TusError: ``416`` for a range the file cannot satisfy.
    """
    match = RANGE.match(header.replace(" ", ""))
    if match is None:
        return None  # several ranges, or another unit: answer with the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise unsatisfiable(size)
        return max(size - count, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise unsatisfiable(size)
    return start, end


def unsatisfiable(size: int) -> TusError:
    error = TusError(416, f"The range is outside the file's {size} bytes.", "range")
    error.content_range = f"bytes */{size}"  # type: ignore[attr-defined]
    return error


def hold_for_reference(blobs: QuerySet[Blob]) -> None:
    """A ``HEAD`` is how a device asks before it skips an upload and pushes a record that
    references the file: a file marked unreferenced starts its ``FILE_RETENTION`` again, and
    a ``purge_files`` removing it right now is waited for, so that a ``200`` never names a
    file about to go (docs/files.md#clean-up). One ``UPDATE``, of no row for a file that
    records reference."""
    blobs.filter(unreferenced_since__isnull=False).update(unreferenced_since=timezone.now())


def blob_response(
    request: Request, tenant: str, sha256: str, body: bool
) -> HttpResponse | StreamingHttpResponse:
    if not SHA256_HEX.match(sha256):
        raise not_found()
    digest = sha256.lower()
    blobs = Blob.objects.filter(tenant=tenant, sha256=digest)
    if not body:
        hold_for_reference(blobs)
    blob = blobs.first()
    if blob is None:
        raise not_found()
    etag = f'"{digest}"'
    content_type, attachment = served_type(blob.content_type)
    headers = {
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=31536000, immutable",
    }
    if attachment:
        headers["Content-Disposition"] = f'attachment; filename="{digest}"'
    match = request.headers.get("If-None-Match", "")
    if match and (match.strip() == "*" or etag in [tag.strip() for tag in match.split(",")]):
        return HttpResponse(status=304, headers=headers)
    start, end, status = 0, blob.size - 1, 200
    wanted = request.headers.get("Range", "")
    if wanted and request.headers.get("If-Range", etag) == etag:
        try:
            span = parse_range(wanted, blob.size)
        except TusError as exc:
            response = HttpResponse(status=416, headers=headers)
            response["Content-Range"] = exc.content_range  # type: ignore[attr-defined]
            return response
        if span is not None:
            start, end, status = span[0], span[1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    length = max(end - start + 1, 0)
    headers["Content-Length"] = str(length)
    if not body or length == 0:
        return HttpResponse(status=status, content_type=content_type, headers=headers)
    chunks = read_range(files_storage(), blob.name, start, length)
    return StreamingHttpResponse(chunks, status=status, content_type=content_type, headers=headers)
