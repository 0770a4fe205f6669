"""Bulk reads and writes of the push: one statement for a batch, whatever its size.

``in_values()`` finds the records of a batch: on PostgreSQL with ``col = ANY(%s)``, one array
parameter, rather than ``col IN (%s, %s, ...)`` with one parameter per record, which costs
Django and psycopg a quoted literal each and PostgreSQL a longer query to parse.

``bulk_update()`` writes them with one ``UPDATE ... FROM`` a list of rows per statement.

Django's ``QuerySet.bulk_update()`` writes ``col = CASE WHEN pk = 1 THEN ... WHEN pk = 2 ...``
for every column: for 1,000 records and 7 columns it builds and resolves 7,000 ``When``
expressions in Python, and the database walks the CASE list for every row. That made it
the most expensive step of a push of updates (see docs/benchmarks.md). Here a statement
joins the table to the new values instead:

- PostgreSQL: ``UPDATE t SET a = v.a FROM UNNEST(%s::bigint[], %s::text[]) AS v (pk, a)
  WHERE t.pk = v.pk``, one array parameter per column, like Django's own ``bulk_create()``
  on PostgreSQL: one statement whatever the number of records;
- SQLite 3.33+: ``UPDATE t SET a = v.column2 FROM (VALUES (%s, %s), ...) AS v
  WHERE t.pk = v.column1``, in chunks sized like Django's (``bulk_batch_size`` of the same
  fields), so as many statements as ``bulk_update()`` would send.

Other databases, expressions as values, fields with custom placeholders, multi-table
inheritance and composite primary keys fall back to ``bulk_update()``.

``lock_live()`` keeps the live rows among a batch's parents from being deleted until the
push commits: ``SELECT ... FOR KEY SHARE``, which Django's ORM cannot write.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django.db import connections, models, transaction
from django.db.models import F, Lookup, Q, QuerySet

from .moves import log_object_moves
from .syncable import tenant_field_names


def in_values(queryset: QuerySet[Any], name: str, values: Sequence[Any]) -> QuerySet[Any]:
    """``queryset.filter(<name>__in=values)``, as one array parameter on PostgreSQL."""
    return queryset.filter(any_of(queryset.db, name, values))


def any_of(using: str, name: str, values: Sequence[Any]) -> Q:
    """``Q(<name>__in=values)``, as one array parameter on PostgreSQL (for ``using``)."""
    if connections[using].vendor != "postgresql":
        return Q(**{f"{name}__in": list(values)})
    return Q(_EqualsAny(F(name), list(values)))


def lock_live(queryset: QuerySet[Any], pks: Collection[Any]) -> set[Any]:
    """Those of ``pks`` whose rows in ``queryset`` (a scoped queryset: every locking query is
    filtered by tenant) are live, kept so until the transaction ends: one statement.

    PostgreSQL: ``SELECT pk ... WHERE <scope> AND pk = ANY(%s) AND deleted = false ORDER BY
    pk FOR KEY SHARE``, which Django's ORM cannot write. The lock lets other pushes name the
    same parents, but conflicts with the ``FOR UPDATE`` every delete takes first: a statement
    that waits on a delete reads the row again once the delete has committed, and a row
    deleted meanwhile drops out (docs/relations.md). SQLite runs one writer at a time
    (``IMMEDIATE`` transactions in the tests' and the example's settings), so there the read
    is enough. Other databases: ``FOR UPDATE``.
    """
    if not pks:
        return set()
    using = queryset.db
    rows = queryset.filter(any_of(using, "pk", sorted(pks)), deleted=False)
    rows = rows.order_by("pk").values_list("pk", flat=True)
    connection = connections[using]
    if connection.vendor == "sqlite":
        return set(rows)
    if connection.vendor != "postgresql":
        return set(rows.select_for_update(of=("self",)))
    sql, params = rows.query.get_compiler(using=using).as_sql()
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} FOR KEY SHARE OF {table}", params)
        locked = {row[0] for row in cursor.fetchall()}
    return {pk for pk in pks if pk in locked}


class _EqualsAny(Lookup):
    """``lhs = ANY(%s::type[])``. Used as an expression, not registered on any field."""

    lookup_name = "dms_equals_any"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(v, connection, prepared=False) for v in self.rhs]
        return f"{lhs} = ANY(%s::{_base_type(field, connection)}[])", (*params, values)


def bulk_update(
    model: type[models.Model], objs: Sequence[models.Model], names: Sequence[str], using: str
) -> int:
    """Write the ``names`` columns of ``objs`` (saved records) as they are in Python.

    Returns the number of rows matched, like ``QuerySet.bulk_update()``.
    """
    if not objs:
        return 0
    log_object_moves(model, objs, tenant_field_names(model), using)
    opts = model._meta
    connection = connections[using]
    fields: list[Any] = [opts.get_field(name) for name in names]
    if not _can_join_values(model, objs, fields, connection):
        return model._base_manager.db_manager(using).bulk_update(objs, list(names))
    related = [f for f in fields if f.is_relation]
    if related:  # as bulk_update() does: refuse unsaved related objects
        for obj in objs:
            obj._prepare_related_fields_for_save(  # type: ignore[attr-defined]
                operation_name="bulk_update", fields=related
            )
    pk: Any = opts.pk
    columns = [pk, *fields]
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns] for obj in objs
    ]
    qn = connection.ops.quote_name
    table = qn(opts.db_table)
    if connection.vendor == "postgresql":
        aliases = [f"c{i}" for i in range(len(columns))]
        arrays = ", ".join(f"%s::{_base_type(f, connection)}[]" for f in columns)
        sources = [
            (
                f"UNNEST({arrays}) AS v ({', '.join(aliases)})",
                [list(c) for c in zip(*rows, strict=True)],
            )
        ]
    else:
        aliases = [f"column{i + 1}" for i in range(len(columns))]
        row = f"({', '.join(['%s'] * len(columns))})"
        size = max(connection.ops.bulk_batch_size([pk, pk, *fields], objs), 1)
        sources = [
            (
                f"(VALUES {', '.join([row] * len(rows[i : i + size]))}) AS v",
                [value for values in rows[i : i + size] for value in values],
            )
            for i in range(0, len(rows), size)
        ]
    assignments = ", ".join(
        f"{qn(f.column)} = v.{a}" for f, a in zip(fields, aliases[1:], strict=True)
    )
    where = f"{table}.{qn(pk.column)} = v.{aliases[0]}"
    matched = 0
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        for source, params in sources:
            cursor.execute(f"UPDATE {table} SET {assignments} FROM {source} WHERE {where}", params)
            matched += cursor.rowcount
    return matched


def _can_join_values(
    model: type[models.Model], objs: Sequence[models.Model], fields: list[Any], connection: Any
) -> bool:
    opts = model._meta
    if connection.vendor == "postgresql":
        # The fields Django's bulk_create() also sends as arrays (see its InsertUnnest).
        for f in [opts.pk, *fields]:
            internal = (f.target_field if f.is_relation else f).get_internal_type()
            if hasattr(f, "get_placeholder") or internal not in connection.data_types:
                return False
    elif connection.vendor != "sqlite" or connection.Database.sqlite_version_info < (3, 33):
        return False
    if opts.parents or len(getattr(opts, "pk_fields", [opts.pk])) != 1:
        return False
    if any(not f.concrete or f.many_to_many or f.primary_key for f in fields):
        return False
    return not any(
        hasattr(getattr(obj, f.attname), "resolve_expression") for obj in objs for f in fields
    )


def _base_type(field: Any, connection: Any) -> str:
    """The column type without length or precision: ``varchar(200)`` -> ``varchar``.

    Casting to ``varchar(200)`` would silently truncate a longer value; assigning a
    ``varchar`` to the column raises an error instead, as an ordinary UPDATE does.
    """
    return str(field.db_type(connection)).split("(")[0]
