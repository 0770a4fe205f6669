"""The change clock: the value written to ``change_seq`` and the horizon pulls may read up to.

PostgreSQL: ``change_seq`` is the writing transaction's id (``pg_current_xact_id()``), and a
pull only serves rows whose transaction id is below the horizon, the oldest transaction
still running that can write this database (:func:`read_clock`). Every transaction below
that horizon has finished, so no row can later appear behind a cursor that a device already
holds, however transactions interleave and in whatever order they commit. See the
documentation's "The change cursor" page.

Other databases (SQLite): a counter row incremented inside the writing transaction. SQLite
runs one writer at a time, so counter order is commit order; the horizon is one above the
counter's value, so every committed row is below it.

:func:`read_clock` reads the horizon together with what identifies the clock (the cluster
and the database's last reset): a cursor carries them, see :mod:`django_mobile_sync.engine.epoch`.

A pull reads rows in ``(change_seq, pk)`` order after a position: :func:`after_position`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connections, transaction
from django.db.models import BooleanField, Expression, F, Model, Q, Value

from ..conf import sync_settings


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
    clocks = change_clock_model().objects.using(using)
    # The UPDATE takes the counter's row lock until commit: writers stamp in commit order.
    if not clocks.filter(pk=1).update(value=F("value") + 1):
        with transaction.atomic(using=using):
            clocks.get_or_create(pk=1, defaults={"value": 0})
        clocks.filter(pk=1).update(value=F("value") + 1)
    return int(clocks.values_list("value", flat=True).get(pk=1))


def change_clock_model() -> Any:
    """The ``ChangeClock`` model (looked up, so that models.py may import this module)."""
    return apps.get_model("django_mobile_sync", "ChangeClock")


#: The per-database horizon on a primary: the cluster-wide one, minus the transactions that
#: positively belong to sessions connected to another database (see docs/cursor.md). On a
#: hot standby the snapshot lists no running transaction (``xip`` is empty: PostgreSQL keeps
#: the standby's known-assigned ids elsewhere) and ``pg_stat_activity`` shows none of the
#: primary's sessions, so there only the cluster-wide ``xmin`` is a valid horizon.
DATABASE_HORIZON = """LEAST(
        pg_snapshot_xmax(s.snap),
        (SELECT min(x) FROM pg_snapshot_xip(s.snap) AS x
         WHERE x::xid NOT IN (
             SELECT a.backend_xid FROM pg_stat_activity AS a
             WHERE a.backend_xid IS NOT NULL
               AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
         ))
    )"""
CLUSTER_HORIZON = "pg_snapshot_xmin(s.snap)"
#: ``MOBILE_SYNC["PULL_HORIZON"]`` values: the horizon on a primary.
HORIZONS = {"database": DATABASE_HORIZON, "cluster": CLUSTER_HORIZON}

#: One statement, so that every value describes the same server at the same moment (through
#: a connection pooler, two statements may run on two server connections).
POSTGRESQL_CLOCK_SQL = """
WITH s AS (SELECT pg_current_snapshot() AS snap, pg_is_in_recovery() AS standby)
SELECT
    (CASE WHEN s.standby THEN pg_snapshot_xmin(s.snap) ELSE {horizon} END)::text::bigint,
    pg_snapshot_xmax(s.snap)::text::bigint,
    s.standby,
    (SELECT system_identifier FROM pg_control_system())::text,
    (SELECT max(id) FROM {purges} WHERE domain = %s)
FROM s
"""
COUNTER_CLOCK_SQL = """
SELECT (SELECT value FROM {clocks} WHERE id = 1), (SELECT max(id) FROM {purges} WHERE domain = %s)
"""


@dataclass(frozen=True)
class ClockReading:
    """The change clock of one database server, read in one statement.

    Attributes:
        horizon: rows with ``change_seq`` below it are committed for good and safe to serve.
        clock: the next value the clock gives (every value below it was given out already):
            ``pg_snapshot_xmax`` on PostgreSQL, the counter + 1 elsewhere.
        standby: read on a hot standby (``pg_is_in_recovery()``).
        cluster: the identity of the transaction-id space: PostgreSQL's system identifier,
            shared by a primary and its physical standbys; ``""`` on SQLite.
        reset: the id of the database's last reset (``manage.py sync_reset``), 0 if none.
    """

    horizon: int
    clock: int
    standby: bool = False
    cluster: str = ""
    reset: int = 0


def read_clock(using: str) -> ClockReading:
    """The horizon pulls may read below, and the epoch of the server ``using`` reaches.

    On a PostgreSQL primary, ``MOBILE_SYNC["PULL_HORIZON"]`` picks the horizon:
    ``"database"`` (the default) is held back only by transactions that can write this
    database, ``"cluster"`` by every transaction of the cluster. On a hot standby the
    horizon is always the cluster-wide one, built from the transactions the standby knows
    to be running on the primary (see docs/cursor.md, "Pulls from a hot standby").
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    purge_model: Any = apps.get_model("django_mobile_sync", "TombstonePurge")
    purges, reset_domain = quote(purge_model._meta.db_table), purge_model.RESET
    if uses_transaction_ids(using):
        horizon = HORIZONS[sync_settings.PULL_HORIZON]
        sql = POSTGRESQL_CLOCK_SQL.format(horizon=horizon, purges=purges)
        with connection.cursor() as cursor:
            if connection.in_atomic_block and horizon is DATABASE_HORIZON:
                # pg_stat_activity is read once per transaction and kept: read it afresh,
                # after this statement's snapshot (see docs/cursor.md).
                cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(sql, [reset_domain])
            horizon_value, clock, standby, cluster, reset = cursor.fetchone()
        return ClockReading(int(horizon_value), int(clock), bool(standby), cluster, reset or 0)
    # One writer at a time: every value the counter has reached is committed.
    clocks = quote(change_clock_model()._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(COUNTER_CLOCK_SQL.format(clocks=clocks, purges=purges), [reset_domain])
        value, reset = cursor.fetchone()
    following = int(value or 0) + 1
    return ClockReading(following, following, reset=reset or 0)


def pull_horizon(using: str) -> int:
    """Rows with ``change_seq`` below this value are committed for good and safe to serve."""
    return read_clock(using).horizon


def after_position(model: type[Model], seq: int, pk: Any) -> Q:
    """Rows after ``(seq, pk)`` in ``(change_seq, pk)`` order (after all of ``seq`` if no pk).

    With an index on (tenant fields..., ``change_seq``, pk) the database starts the page at
    the position instead of reading every row before it; ``change_seq >= seq`` lets an
    index on (tenant fields..., ``change_seq``) narrow the scan to one transaction's rows.
    """
    if pk is None:
        return Q(change_seq__gt=seq)
    opts = model._meta
    seq_field: Any = opts.get_field("change_seq")
    after = RowAfter(
        [F("change_seq"), F("pk")],
        [Value(seq, output_field=seq_field), Value(pk, output_field=opts.pk)],
    )
    return Q(change_seq__gte=seq) & Q(after)


class RowAfter(Expression):
    """``(a, b) > (x, y)``: a row comparison, written as one where the database has it.

    PostgreSQL and SQLite use a row comparison as the start of an index range. The same
    condition spelt ``a > x OR (a = x AND b > y)`` is only a filter: a pull page deep into
    a table of a million rows read and discarded every row before it (see
    docs/benchmarks.md). Other databases get that spelling.
    """

    conditional = True

    def __init__(self, columns: Sequence[Any], values: Sequence[Any]) -> None:
        super().__init__(output_field=BooleanField())
        if len(columns) != len(values) or not columns:
            raise ValueError("RowAfter needs as many values as columns, at least one.")
        self.columns, self.values = list(columns), list(values)

    def get_source_expressions(self) -> list[Any]:
        return [*self.columns, *self.values]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        n = len(self.columns)
        self.columns, self.values = list(exprs[:n]), list(exprs[n:])

    def _compiled(self, compiler: Any) -> tuple[list[Any], list[Any]]:
        return (
            [compiler.compile(e) for e in self.columns],
            [compiler.compile(e) for e in self.values],
        )

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        """``a > x OR (a = x AND (b > y ...))``, for databases without row values."""
        columns, values = self._compiled(compiler)
        sql, params = "", []
        for (col, col_params), (val, val_params) in reversed(
            list(zip(columns, values, strict=True))
        ):
            if not sql:
                sql, params = f"{col} > {val}", [*col_params, *val_params]
            else:
                sql = f"({col} > {val} OR ({col} = {val} AND {sql}))"
                params = [*col_params, *val_params, *col_params, *val_params, *params]
        return sql, params

    def _row_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        columns, values = self._compiled(compiler)
        lhs = ", ".join(sql for sql, _ in columns)
        rhs = ", ".join(sql for sql, _ in values)
        params = [p for _, ps in [*columns, *values] for p in ps]
        return f"({lhs}) > ({rhs})", params

    as_postgresql = as_sqlite = _row_sql
