"""The change clock: the value written to ``change_seq`` and the horizon pulls may read up to.

PostgreSQL: ``change_seq`` is the writing transaction's id (``pg_current_xact_id()``), and a
pull only serves rows whose transaction id is below ``pg_snapshot_xmin(pg_current_snapshot())``,
the oldest transaction still running. Every transaction below that horizon has finished, so
no row can later appear behind a cursor that a device already holds, however transactions
interleave and in whatever order they commit. See docs/cursor.md.

Other databases (SQLite): a counter row incremented inside the writing transaction. SQLite
runs one writer at a time, so counter order is commit order and every committed row is
below the horizon.
"""

from __future__ import annotations

from django.db import connections, transaction
from django.db.models import F

#: Larger than any change_seq: "no horizon".
NO_HORIZON = 2**63 - 1


def uses_transaction_ids(using: str) -> bool:
    return connections[using].vendor == "postgresql"


def next_change_seq(using: str) -> int:
    """The ``change_seq`` for rows written by the current transaction on ``using``.

    Must be called inside the transaction that writes the rows (the callers wrap their
    writes in ``transaction.atomic``), or the value would belong to another transaction.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("next_change_seq() must run inside the writing transaction")
    if uses_transaction_ids(using):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            return int(cursor.fetchone()[0])
    from .models import ChangeClock

    clocks = ChangeClock.objects.using(using)
    # The UPDATE takes the counter's row lock until commit: writers stamp in commit order.
    if not clocks.filter(pk=1).update(value=F("value") + 1):
        with transaction.atomic(using=using):
            ChangeClock.objects.using(using).get_or_create(pk=1, defaults={"value": 0})
        clocks.filter(pk=1).update(value=F("value") + 1)
    return int(clocks.values_list("value", flat=True).get(pk=1))


def pull_horizon(using: str) -> int:
    """Rows with ``change_seq`` below this value are committed for good and safe to serve."""
    if uses_transaction_ids(using):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            return int(cursor.fetchone()[0])
    return NO_HORIZON
