"""tus 1.0.0 on the wire: its headers, read and checked, and its error answers.

https://tus.io/protocols/resumable-upload: core, creation, checksum (``sha256``),
termination and expiration. Every error is a JSON ``{"detail", "code"}`` answer with the
status tus gives it (docs/files.md#errors).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from rest_framework.exceptions import APIException

__all__ = [
    "EXTENSIONS",
    "TUS_VERSION",
    "Metadata",
    "TusError",
    "read_checksum",
    "read_length",
    "read_metadata",
    "read_offset",
]

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
CONTENT_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)


class TusError(APIException):
    """A tus error: its status, a message that says what to do, and a stable code."""

    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail, code)
        self.status_code = status


@dataclass(frozen=True)
class Metadata:
    """What ``Upload-Metadata`` declares: the whole file's digest, and how to serve it."""

    sha256: str
    filename: str
    content_type: str


def read_length(headers: Mapping[str, str], limit: int) -> int:
    """``Upload-Length``: a whole number of bytes, at most ``limit`` (else ``413``)."""
    if "Upload-Defer-Length" in headers:
        raise TusError(400, "Upload-Defer-Length is not supported: send Upload-Length.", "tus")
    value = headers.get("Upload-Length", "")
    if not value.isdigit() or len(value) > 19:
        raise TusError(
            400, "Upload-Length must be the file's size in bytes, a whole number.", "tus"
        )
    length = int(value)
    if length > limit:
        raise TusError(413, f"The file exceeds {limit} bytes (MAX_FILE_BYTES).", "file_too_large")
    return length


def read_offset(headers: Mapping[str, str]) -> int:
    value = headers.get("Upload-Offset", "")
    if not value.isdigit() or len(value) > 19:
        raise TusError(400, "Upload-Offset must be a whole number of bytes.", "tus")
    return int(value)


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise TusError(400, f"{what} is not valid base64.", "tus") from exc


def read_metadata(header: str) -> Metadata:
    """``Upload-Metadata``: ``sha256`` (required: 64 hex digits, base64-encoded),
    ``filename`` and ``content_type`` (optional)."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, value = item.partition(" ")
        if not key or key in pairs:
            raise TusError(400, "Upload-Metadata has an empty or repeated key.", "tus")
        try:
            pairs[key] = _b64(value.strip(), f"Upload-Metadata {key!r}").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TusError(400, f"Upload-Metadata {key!r} is not UTF-8.", "tus") from exc
    digest = pairs.get("sha256", "")
    if not SHA256_HEX.match(digest):
        raise TusError(
            400,
            "Upload-Metadata must carry sha256: the whole file's hex digest (64 digits), "
            "base64-encoded.",
            "invalid_sha256",
        )
    content_type = pairs.get("content_type") or pairs.get("filetype") or ""
    content_type = content_type.split(";")[0].strip().lower()
    if not CONTENT_TYPE.match(content_type):
        content_type = "application/octet-stream"
    filename = "".join(ch for ch in pairs.get("filename", "") if ch.isprintable())[:255]
    return Metadata(digest.lower(), filename, content_type)


def read_checksum(header: str) -> bytes | None:
    """``Upload-Checksum: sha256 <base64 digest of the chunk>``: the digest, or ``None``."""
    if not header:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise TusError(
            400, f"Upload-Checksum algorithm {algorithm!r} is not supported: use sha256.", "tus"
        )
    digest = _b64(value.strip(), "Upload-Checksum")
    if len(digest) != 32:
        raise TusError(400, "Upload-Checksum must be a sha256 digest (32 bytes).", "tus")
    return digest
