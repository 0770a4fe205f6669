"""The library's exception classes: errors of the sync layer itself.

The DRF ``APIException`` subclasses the endpoints answer with, and the exception handler that
turns every error into a JSON body, live in :mod:`django_mobile_sync.api.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import Model

__all__ = [
    "CursorExpired",
    "InvalidCursor",
    "ReadOnPrimary",
    "ReapplyRefused",
    "TenantFieldChanged",
    "UnstorableValue",
]


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
