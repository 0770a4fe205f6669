"""The epoch of a database's change clock: which cursors its clock can still answer.

A cursor's position is a value of one database's change clock. It means nothing to another
database, and nothing to the same database once its clock has lost history:

- **another database**: tenants spread over several primaries each have their own clock.
  A cursor records the alias of the database it belongs to (:class:`~.cursor.Origin`); on
  another one it is a ``400``.
- **another cluster**: a dump restored into another PostgreSQL cluster (or a logical
  copy) gets that cluster's transaction ids, usually lower. A cursor records the cluster's
  system identifier, which a primary and its physical standbys share; on another cluster
  it is a ``410``: the device resyncs.
- **a clock behind the cursor**: a primary whose clock has not reached a cursor's mark has
  lost the history the cursor saw (a failover to a standby that had not received the last
  transactions, a point-in-time recovery, an older SQLite file): ``410``. A standby that
  has not reached it may only lag: the primary reads that page.
- **a reset**: ``manage.py sync_reset`` (:func:`reset_database`) re-stamps rows stamped
  above the clock and records a reset; every cursor issued before it is a ``410``.

See the documentation's "The change cursor" page, "Epochs".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..exceptions import CursorExpired, InvalidCursor, ReadOnPrimary
from ..models import SyncableModelMixin, TombstonePurge
from ..records.clock import ClockReading, next_change_seq, read_clock
from .cursor import Origin

OTHER_DATABASE = "The cursor belongs to another database; resync from scratch."
OTHER_CLUSTER = (
    "The database was moved to another server since this cursor was issued (a restore); "
    "resync from scratch (keep your unpushed changes and push them after)."
)
LOST_HISTORY = (
    "The database lost changes this cursor has seen (a failover or a restore); resync from "
    "scratch (keep your unpushed changes and push them after)."
)
RESET = (
    "The database was reset since this cursor was issued; resync from scratch (keep your "
    "unpushed changes and push them after)."
)


def origin_of(database: str, reading: ClockReading) -> Origin:
    """The origin of a position read on ``database`` (its primary's alias) at ``reading``."""
    return Origin(database, reading.cluster, reading.reset)


def check_origin(origin: Origin, mark: int, database: str, reading: ClockReading) -> None:
    """Refuse a position of another database or another epoch of this one.

    Args:
        origin: the position's origin; an unbound one (the start of the feed) passes.
        mark: the position's purge mark, the highest horizon its chain of pages has read.
        database: the alias of the database the domain writes to.
        reading: the clock of the server the page is read on (the primary or a standby).

    Raises:
        InvalidCursor: the position belongs to another database.
        CursorExpired: it belongs to another epoch of this database (read on a primary).
        ReadOnPrimary: read on a standby that lags behind the position, or disagrees with
            it: the primary decides.
    """
    if not origin.bound:
        return
    if origin.database != database:
        raise InvalidCursor(OTHER_DATABASE)
    if origin.cluster != reading.cluster:
        problem = OTHER_CLUSTER
    elif origin.reset != reading.reset:
        problem = RESET
    elif mark > reading.clock:
        problem = LOST_HISTORY
    else:
        return
    if reading.standby:
        raise ReadOnPrimary(f"the standby cannot serve this cursor: {problem}")
    raise CursorExpired(problem)


# -- operations -----------------------------------------------------------------------------


@dataclass
class ResetReport:
    """What :func:`reset_database` did."""

    seq: int
    restamped: dict[str, int] = field(default_factory=dict)
    purges: int = 0


def synced_models(using: str) -> list[type[SyncableModelMixin]]:
    """Every model with the mixin whose table lives on ``using``."""
    return [
        model
        for model in apps.get_models()
        if issubclass(model, SyncableModelMixin) and router.allow_migrate_model(using, model)
    ]


def rows_above_clock(using: str) -> dict[str, int]:
    """Per model label, the rows stamped at or above the clock of ``using``.

    Such rows come from another clock (a dump of another cluster restored here): pulls do
    not serve them until the clock passes them. :func:`reset_database` re-stamps them.
    """
    clock = read_clock(using).clock
    found = {}
    for model in synced_models(using):
        count = QuerySet(model=model, using=using).filter(change_seq__gte=clock).count()
        if count:
            found[model._meta.label] = count
    return found


def reset_database(using: str = "default") -> ResetReport:
    """Start a new epoch of the database ``using``: every cursor issued before is a 410.

    In one transaction: rows stamped above the clock (from another cluster's clock) are
    re-stamped with this transaction's value, so pulls serve them; purge records from
    above the clock are moved down to it (their horizons mean nothing any more, and every
    cursor that could need them is refused); and a reset row is recorded. Versions and
    everything devices compare are left alone: devices resync and push their changes.
    """
    with transaction.atomic(using=using):
        seq = next_change_seq(using)
        report = ResetReport(seq)
        for model in synced_models(using):
            # A plain queryset: the mixin's would move the version of every row.
            rows: QuerySet[Any] = QuerySet(model=model, using=using).filter(change_seq__gt=seq)
            count = rows.update(change_seq=seq)
            if count:
                report.restamped[model._meta.label] = count
        purges: Any = TombstonePurge.objects.using(using)
        report.purges = purges.filter(seq__gt=seq).update(seq=seq)
        purges.create(
            domain=TombstonePurge.RESET,
            horizon_seq=seq,
            seq=seq,
            purged_before=timezone.now(),
            purged_count=0,
        )
    return report
