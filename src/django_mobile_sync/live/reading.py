"""What changed between two readings of a database's change clock: the tenants of the
domains that streams follow with a row whose ``change_seq`` lies between them.

The detector asks at every read, several times a second under load, so the statement is
plain SQL built once per set of followed domains (:func:`statements`) and only executed
afterwards: a ``UNION ALL`` of one ``SELECT DISTINCT`` per domain, one statement per kind of
tenant columns (all domains, in the common case), each an index range on ``change_seq``.
Building it through the ORM at every read cost more than running it
(docs/live.md#how-a-change-reaches-a-stream). A domain whose values need more than the
database gives (a model with multi-table inheritance, a tenant field that converts what
it reads: a date, a custom field) is read through the ORM, one query per read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Field, Model

from .fanout import Follow, TenantKey

#: A domain's shape as the statement needs it: its name, model and tenant columns.
Shape = tuple[str, type[Model], tuple[str, ...]]
#: A domain as a part of a statement: its name, model and tenant fields.
Part = tuple[str, type[Model], tuple["Field[Any, Any]", ...]]


@dataclass(frozen=True)
class Statement:
    """One ``UNION ALL`` of the domains whose tenant columns have the same types.

    Attributes:
        sql: the statement; each part selects its index in ``names``, then the tenant
            columns, and takes the range's start and end as parameters.
        names: the domains, by the index their part selects.
        parsers: per domain, the Python value of each tenant column (``to_python``), so
            that a tenant read here equals the stream's (a UUID stored as text on SQLite).
    """

    sql: str
    names: tuple[str, ...]
    parsers: tuple[tuple[Callable[[Any], Any], ...], ...]

    def tenants(self, using: str, start: int, end: int) -> dict[str, set[TenantKey] | None]:
        """The tenants of each domain with a change in ``[start, end)``; ``None`` stands
        for every tenant (an unscoped domain that changed)."""
        found: dict[str, set[TenantKey] | None] = {}
        with connections[using].cursor() as cursor:
            cursor.execute(self.sql, [start, end] * len(self.names))
            rows = cursor.fetchall()
        for index, *values in rows:
            name, parsers = self.names[index], self.parsers[index]
            if not parsers:
                found[name] = None
                continue
            tenants = found.setdefault(name, set())
            if tenants is not None:
                tenants.add(tuple(parse(v) for parse, v in zip(parsers, values, strict=True)))
        return found


def changed_tenants(follow: Follow, start: int, end: int) -> set[TenantKey] | None:
    """The tenants of ``follow``'s domain with a change in ``[start, end)`` (an index range
    on ``change_seq``); ``None`` stands for every tenant (an unscoped domain that changed)."""
    return changed_in({follow.domain: follow}, start, end)[follow.domain]


def changed_tenants_orm(follow: Follow, start: int, end: int) -> set[TenantKey] | None:
    """:func:`changed_tenants` through the ORM, for a domain :func:`is_plain` refuses."""
    rows = follow.model._base_manager.using(follow.using).filter(
        change_seq__gte=start, change_seq__lt=end
    )
    if not follow.columns:
        return None if rows.exists() else set()
    return set(rows.order_by().values_list(*follow.columns).distinct())


def changed_in(
    follows: Mapping[str, Follow], start: int, end: int
) -> dict[str, set[TenantKey] | None]:
    """:func:`changed_tenants` of several domains of one database, by name, in one
    statement per kind of tenant columns, whatever the number of domains."""
    if not follows:
        return {}
    using = next(iter(follows.values())).using
    found: dict[str, set[TenantKey] | None] = {name: set() for name in follows}
    shapes = []
    for name, follow in sorted(follows.items()):
        if is_plain(follow.model, follow.columns):
            shapes.append((name, follow.model, follow.columns))
        else:
            found[name] = changed_tenants_orm(follow, start, end)
    for statement in statements(using, tuple(shapes)) if shapes else ():
        found.update(statement.tenants(using, start, end))
    return found


#: Tenant field types whose values the database gives as Python has them (a UUID stored as
#: text on SQLite is parsed by ``to_python``).
PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "CharField",
        "SlugField",
        "TextField",
        "UUIDField",
    }
)


@functools.lru_cache(maxsize=256)
def is_plain(model: type[Model], columns: tuple[str, ...]) -> bool:
    """Whether the plain statement reads ``model``'s tenants: its own table holds
    ``change_seq`` and the tenant columns, whose values need no conversion but
    ``to_python``."""
    if model._meta.parents:
        return False
    for column in columns:
        field = model._meta.get_field(column)
        target = getattr(field, "target_field", field)
        for part in (field, target):
            if not isinstance(part, Field) or hasattr(part, "from_db_value"):
                return False
        if target.get_internal_type() not in PLAIN_TYPES:
            return False
    return True


@functools.lru_cache(maxsize=256)
def statements(using: str, shapes: tuple[Shape, ...]) -> tuple[Statement, ...]:
    """The statements that read what changed for ``shapes``, built once."""
    connection = connections[using]
    quote = connection.ops.quote_name
    groups: dict[tuple[str | None, ...], list[Part]] = {}
    for name, model, columns in shapes:
        fields = tuple(concrete_field(model, column) for column in columns)
        kinds = tuple(field.db_type(connection) for field in fields)
        groups.setdefault(kinds, []).append((name, model, fields))
    built = []
    for group in groups.values():
        parts = []
        for index, (_name, model, fields) in enumerate(group):
            seq = quote(str(concrete_field(model, "change_seq").column))
            selected = "".join(f", {quote(str(field.column))}" for field in fields)
            parts.append(
                f"SELECT DISTINCT {index}{selected} FROM {quote(model._meta.db_table)} "
                f"WHERE {seq} >= %s AND {seq} < %s"
            )
        built.append(
            Statement(
                " UNION ALL ".join(parts),
                tuple(name for name, _model, _fields in group),
                tuple(tuple(field.to_python for field in fields) for _n, _m, fields in group),
            )
        )
    return tuple(built)


def concrete_field(model: type[Model], name: str) -> Field[Any, Any]:
    """The field of ``model`` named ``name`` (or with that ``attname``), a column of it."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise ImproperlyConfigured(f"{model.__name__}.{name} is not a column: streams follow it.")
    return field
