"""The DRF plumbing every sync endpoint shares, native or a client protocol's.

Parsing (``MAX_BODY_BYTES``, gzip), rendering, JSON errors, ``Idempotency-Key``, client schema
versions, batch limits, the envelopes and the OpenAPI description. The views
(:mod:`django_mobile_sync.views`) and the client adapters use it from here.
"""

from __future__ import annotations

from . import idempotency
from . import schema as openapi
from .client_schema import ClientField, FieldKind, client_fields
from .client_versions import HEADER as SCHEMA_VERSION_HEADER
from .client_versions import check_client_schema, minimum_schema_version
from .envelopes import ErrorResponseSerializer
from .errors import (
    IdempotencyConflict,
    IdempotencyMismatch,
    PayloadTooLarge,
    UnsupportedContentEncoding,
    UpgradeRequired,
    sync_exception_handler,
)
from .idempotency import read_key
from .limits import ENTRIES, BatchLimit
from .parsers import SyncJSONParser, check_content_length
from .renderers import SyncJSONRenderer
from .schema import SyncViewSchema

__all__ = [
    "ENTRIES",
    "SCHEMA_VERSION_HEADER",
    "BatchLimit",
    "ClientField",
    "ErrorResponseSerializer",
    "FieldKind",
    "IdempotencyConflict",
    "IdempotencyMismatch",
    "PayloadTooLarge",
    "SyncJSONParser",
    "SyncJSONRenderer",
    "SyncViewSchema",
    "UnsupportedContentEncoding",
    "UpgradeRequired",
    "check_client_schema",
    "check_content_length",
    "client_fields",
    "idempotency",
    "minimum_schema_version",
    "openapi",
    "read_key",
    "sync_exception_handler",
]
