"""A JSON parser with a body-size cap and bounded gzip decompression.

``MAX_BODY_BYTES`` is the only limit on a sync body (see docs/protocol.md#errors-and-limits),
enforced here on the bytes read and again on the bytes a gzip stream inflates to.

The parser is deliberately not a DRF ``JSONParser``: from DRF 3.16 on, ``Request`` reads a
``JSONParser``'s body through Django's ``request.body``, which refuses anything over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB) with an exception DRF does not answer (a 500). Any
other parser is handed the request stream, on every DRF version, and reads it in chunks.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from ..conf import sync_settings
from .errors import PayloadTooLarge, UnsupportedContentEncoding

CHUNK = 64 * 1024
ACCEPTED_ENCODINGS = ("gzip", "identity")


def read_limited(stream: Any, limit: int) -> bytes:
    """Read at most ``limit`` bytes, in chunks; more is a 413."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """Inflate ``data`` a chunk at a time, stopping as soon as it passes ``limit`` bytes."""
    out: list[bytes] = []
    total = 0
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while data:
                part = inflater.decompress(data, CHUNK)
                total += len(part)
                if total > limit:
                    raise PayloadTooLarge(limit)
                out.append(part)
                data = inflater.unconsumed_tail
            tail = inflater.flush()
        except zlib.error as exc:
            raise ParseError(f"The gzip body is corrupt: {exc}.", code="bad_gzip") from exc
        total += len(tail)
        if total > limit:
            raise PayloadTooLarge(limit)
        out.append(tail)
        if not inflater.eof:
            raise ParseError("The gzip body is truncated.", code="bad_gzip")
        data = inflater.unused_data  # another gzip member may follow
    return b"".join(out)


def check_content_length(meta: Mapping[str, Any]) -> None:
    """A 400 for a ``Content-Length`` that is not a whole number of bytes.

    DRF reads such a header as "no body" and never calls the parser, so an endpoint whose
    empty body is valid (a WatermelonDB push of no changes) would answer as if nothing was
    sent.
    """
    declared = meta.get("CONTENT_LENGTH")
    if declared not in (None, "") and not (str(declared).isascii() and str(declared).isdigit()):
        raise ParseError(
            f"Content-Length must be a whole number of bytes, not {declared!r}.",
            code="invalid_content_length",
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


#: Longest integer read as such: Python refuses to convert longer ones (``sys.int_info``).
MAX_INT_DIGITS = 4000


def _parse_int(text: str) -> int | float:
    """An integer, or infinity for one too long to convert: like ``1e400``, it is refused
    by the entry that holds it (see :mod:`django_mobile_sync.records.storable`), not by the
    batch."""
    if len(text) > MAX_INT_DIGITS:
        return float("inf") if text[0] != "-" else float("-inf")
    return int(text)


class SyncJSONParser(BaseParser):
    """``application/json`` with ``MAX_BODY_BYTES`` and ``Content-Encoding: gzip``."""

    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {}) if request is not None else {}
        limit = int(sync_settings.MAX_BODY_BYTES)
        encoding = meta.get("HTTP_CONTENT_ENCODING", "identity").strip().lower() or "identity"
        if encoding not in ACCEPTED_ENCODINGS:
            raise UnsupportedContentEncoding(encoding, ACCEPTED_ENCODINGS)
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge(limit)
        body = read_limited(stream, limit) if stream is not None else b""
        if encoding == "gzip":
            body = gunzip_limited(body, limit)
        try:
            return json.loads(
                body.decode("utf-8"), parse_constant=_reject_constant, parse_int=_parse_int
            )
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}", code="malformed_json") from exc
