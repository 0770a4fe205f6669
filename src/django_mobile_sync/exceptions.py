"""The library's exception classes.

Errors of the sync layer itself, and the DRF ``APIException`` subclasses it answers with.
The DRF exception handler that turns them into JSON bodies lives in
:mod:`django_mobile_sync.handlers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rest_framework import status
from rest_framework.exceptions import APIException

if TYPE_CHECKING:
    from django.db.models import Model


class InvalidCursor(Exception):
    """The cursor is malformed, forged, or minted for another domain or tenant (400)."""


class CursorExpired(Exception):
    """The cursor is older than a tombstone purge, or of another epoch of its database (a
    restore, a failover that lost transactions, a reset): the device must resync (410)."""


class ReadOnPrimary(Exception):
    """A pull page cannot be read on this replica; read it on the primary instead.

    The replica is not known to be a hot standby of the primary, or it has not replayed
    what the cursor has already seen (it lags behind the server that issued the cursor),
    or the cursor's epoch differs from the replica's: only the primary may decide.
    """


class UnstorableValue(ValueError):
    """A value no database column can hold; the message says why, for the device."""


class TenantFieldChanged(ValueError):
    """A write would move a synced record to another tenant.

    Tenant fields are immutable: the old tenant's devices would keep the record forever,
    since their pulls no longer see it change. Delete the record (its tombstone reaches the
    old tenant) and create it again in the new tenant instead.
    """

    advice = (
        "A synced record cannot move to another tenant: delete it and create it again in "
        "the new one."
    )

    def __init__(self, model: type[Model], names: Sequence[str]) -> None:
        super().__init__(f"{model._meta.label}: {', '.join(names)} cannot change. {self.advice}")


class ReapplyRefused(Exception):
    """The device's version cannot be re-applied; the message says why and what to do."""


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The request body exceeds {limit} bytes (MAX_BODY_BYTES); "
            "send fewer entries per batch."
        )


class UnsupportedContentEncoding(APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_content_encoding"

    def __init__(self, encoding: str, accepted: Sequence[str]) -> None:
        super().__init__(
            f"Content-Encoding {encoding!r} is not supported; use {' or '.join(accepted)}."
        )


class UpgradeRequired(APIException):
    """The device's client schema is older than a domain accepts (426): update the app.

    The answer names the minimum as ``minimum_schema_version``. RFC 9110 asks a 426 for an
    ``Upgrade`` header naming a protocol; there is none to name (a newer app is needed, not
    another protocol), and WSGI servers refuse that hop-by-hop header from an application.
    """

    status_code = status.HTTP_426_UPGRADE_REQUIRED
    default_code = "upgrade_required"

    def __init__(self, minimum_schema_version: int) -> None:
        super().__init__(
            f"This app's data schema is too old: the server accepts client schema version "
            f"{minimum_schema_version} or later. Update the app, then sync again."
        )
        self.minimum_schema_version = minimum_schema_version


class IdempotencyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."
    default_code = "idempotency_in_progress"


class IdempotencyMismatch(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was used with a different request body; "
        "use a new key for a new request."
    )
    default_code = "idempotency_key_reused"
