"""The ``timestamp`` WatermelonDB stores: a change clock position, tagged with what it means.

A native cursor carries its domain, tenant scope and the clock's epoch (the cluster and the
database's last reset) in a signed token. WatermelonDB only keeps a number, so the number
carries them as a 13-bit tag over a 40-bit position::

    timestamp = tag * 2**40 + position

``position`` is the change clock's horizon (every row below it was served). ``tag`` is a
digest of the database, its epoch (``manage.py sync_reset``, a restore to another cluster),
the mapped tables and the device's tenant scope in each. A ``last_pulled_at`` whose tag is
not the current one (a reset, a restore, a user moved to another tenant, a table newly
mapped or permitted) cannot be answered incrementally: the pull becomes a replacement sync
and a push is refused with ``409``. Two different states share a tag with a chance of 1 in
8,191, and the number stays below ``2**53``, the largest integer WatermelonDB keeps exactly.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .clock import ClockReading
from .cursor import scope_key

if TYPE_CHECKING:
    from .service import SyncService

POSITION_BITS = 40
TAGS = 2**13 - 1


@dataclass(frozen=True)
class Timestamp:
    """A decoded ``last_pulled_at``: its tag and its clock position."""

    tag: int
    position: int

    @property
    def number(self) -> int:
        """The value WatermelonDB stores."""
        if not 0 <= self.position < 2**POSITION_BITS:
            raise OverflowError(f"clock position {self.position} needs more than 40 bits")
        return (self.tag << POSITION_BITS) | self.position

    @classmethod
    def of(cls, number: int) -> Timestamp:
        return cls(number >> POSITION_BITS, number & (2**POSITION_BITS - 1))


def state_tag(using: str, reading: ClockReading, tables: Iterable[tuple[str, SyncService]]) -> int:
    """The tag of the state a position belongs to (1 to 8,191).

    Args:
        using: the database the tables live in.
        reading: its clock, read now (cluster and reset).
        tables: ``(table name, service)`` of every table of the request.
    """
    parts = [using, reading.cluster, str(reading.reset)]
    parts += sorted(
        f"{name}>{service.domain.name}@{scope_key(service.scope)}" for name, service in tables
    )
    return 1 + zlib.crc32("|".join(parts).encode()) % TAGS
