"""The push's INSERT of new records: on PostgreSQL, each column one binary array parameter.

``bulk_create(model, objs, using)`` does what ``model._base_manager.bulk_create(objs)`` does
(the primary keys and other returned columns set on the objects, which are then saved
records) in the statement Django 5.2 writes on PostgreSQL::

    INSERT INTO t (a, b) SELECT * FROM UNNEST(%b::varchar[], %b::integer[]) RETURNING t.id

but with cheaper parameters. Django binds them on the client: psycopg quotes every array as a
literal, escaping each ``"`` and ``\\`` of each element with a regular expression that calls
Python code per match, which made a push of 1,000 new records with a JSON history spend a
third of its time there (see docs/benchmarks.md). Here the arrays go as binary parameters
(the server-side binding of psycopg 3, ``%b``): each element is sent as its bytes, nothing is
escaped. The statement is not prepared (it stays usable behind PgBouncer's transaction
pooling, as Django's own are).

The values are prepared once per column: a column of Django's own field classes whose
values are already of the type the field writes (text for a ``CharField``, aware datetimes
for a ``DateTimeField``...) is sent as it is, since ``get_db_prep_save()`` would return each
value unchanged (``tests/records/test_inserts.py`` holds each class to it); any other column
goes through ``pre_save()`` and ``get_db_prep_save()`` value by value, as Django's compiler
does.

Everything else is left to Django's ``bulk_create()``: other databases, psycopg 2, a model
with parents or a composite primary key, a manager with its own ``bulk_create()``, a field
Django itself would not put in an ``UNNEST`` (a custom placeholder, a type of its own),
expressions as values, returned columns with converters, a column whose prepared values are
of several types or of a type psycopg has no binary form for.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models import QuerySet

#: Django's field classes whose ``get_db_prep_save()`` on PostgreSQL returns a value of
#: these exact types (or ``None``) unchanged; a subclass counts if it overrides none of
#: :data:`PREP_METHODS`. Datetimes also have to be aware where ``USE_TZ`` is on.
PASSTHROUGH: tuple[tuple[type[models.Field[Any, Any]], tuple[type, ...]], ...] = (
    (models.CharField, (str,)),
    (models.TextField, (str,)),
    (models.IntegerField, (int,)),
    (models.BigAutoField, (int,)),
    (models.BooleanField, (bool,)),
    (models.UUIDField, (uuid.UUID,)),
    (models.DateTimeField, (datetime.datetime,)),
    (models.DateField, (datetime.date,)),
)
PREP_METHODS = ("pre_save", "get_db_prep_save", "get_db_prep_value", "get_prep_value", "to_python")


def bulk_create(model: type[models.Model], objs: list[Any], using: str) -> list[Any]:
    """``model._base_manager.db_manager(using).bulk_create(objs)``, in one statement with
    binary array parameters on PostgreSQL with psycopg 3 where it can."""
    manager = model._base_manager.db_manager(using)
    connection: Any = connections[using]
    if not objs or not _can_unnest(model, manager, connection):
        return manager.bulk_create(objs)
    opts = model._meta
    pk: Any = opts.pk
    for obj in objs:  # as QuerySet.bulk_create() prepares them
        if obj.pk is None:
            obj.pk = pk.get_pk_value_on_save(obj)
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    with_pk = [obj.pk is not None for obj in objs]
    if any(with_pk) and not all(with_pk):  # Django writes them in two statements
        return manager.bulk_create(objs)
    fields: list[Any] = [f for f in opts.concrete_fields if not f.generated]
    if not with_pk[0]:
        fields = [f for f in fields if not isinstance(f, models.AutoField)]
    columns = [_column(field, objs, connection) for field in fields]
    if not fields or any(column is None for column in columns):
        return manager.bulk_create(objs)
    returning = list(opts.db_returning_fields)
    if any(_has_converters(field, connection) for field in returning):
        return manager.bulk_create(objs)
    qn = connection.ops.quote_name
    arrays = ", ".join(f"%b::{_base_type(field, connection)}[]" for field in fields)
    sql = (
        f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"SELECT * FROM UNNEST({arrays})"
    )
    if returning:
        sql += " " + returning_clause(connection, returning)
    sql = sql.replace("%", "%%").replace("%%b::", "%b::")  # a % in a name stays literal
    with transaction.atomic(using=using, savepoint=False), _binding_cursor(using) as cursor:
        cursor.execute(sql, columns)
        rows = cursor.fetchall() if returning else []
    for obj, row in zip(objs, rows or [()] * len(objs), strict=True):
        for field, value in zip(returning, row, strict=True):
            if not (with_pk[0] and field is pk):
                setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = using
    return objs


def returning_clause(connection: Any, fields: list[Any]) -> str:
    """``RETURNING`` the columns of ``fields`` (``returning_columns()`` since Django 6.0,
    ``return_insert_columns()`` before)."""
    ops = connection.ops
    clause = getattr(ops, "returning_columns", None) or ops.return_insert_columns
    return str(clause(fields)[0])


def passthrough_types(field: Any) -> tuple[type, ...]:
    """The types of the values ``field.get_db_prep_save()`` returns unchanged on PostgreSQL
    (``None`` too), or ``()`` when the field is not one of :data:`PASSTHROUGH`."""
    if isinstance(field, models.ForeignKey) and all(
        getattr(type(field), name) is getattr(models.ForeignKey, name)
        for name in ("pre_save", "get_db_prep_save", "get_db_prep_value")
    ):
        # A text key: "" is written as NULL.
        return tuple(kind for kind in passthrough_types(field.target_field) if kind is not str)
    for known, kinds in PASSTHROUGH:
        if all(getattr(type(field), name) is getattr(known, name) for name in PREP_METHODS):
            return kinds
    return ()


def _can_unnest(model: type[models.Model], manager: Any, connection: Any) -> bool:
    if connection.vendor != "postgresql" or _server_binding_cursor_class() is None:
        return False
    opts = model._meta
    if opts.parents or len(getattr(opts, "pk_fields", [opts.pk])) != 1:
        return False
    if (
        getattr(type(manager), "bulk_create", None)
        is not getattr(models.Manager, "bulk_create", None)
        or type(manager.get_queryset()).bulk_create is not QuerySet.bulk_create
    ):
        return False
    field: Any
    for field in opts.concrete_fields:  # the fields Django's own UNNEST takes
        internal = (field.target_field if field.is_relation else field).get_internal_type()
        if hasattr(field, "get_placeholder") or internal not in connection.data_types:
            return False
    return True


def _column(field: Any, objs: Sequence[Any], connection: Any) -> list[Any] | None:
    """The values of ``field`` to insert, or ``None`` if they cannot go as a binary array."""
    kinds = passthrough_types(field)
    plain_read = not (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
    if kinds and plain_read:
        values = list(map(attrgetter(field.attname), objs))
        found = {type(value) for value in values}
        found.discard(type(None))
        if found <= set(kinds) and (
            datetime.datetime not in found or not settings.USE_TZ or _all_aware(values)
        ):
            return values  # one type: each field of PASSTHROUGH names one
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs]
    found = {type(value) for value in values}
    found.discard(type(None))
    if len(found) > 1 or any(hasattr(value, "resolve_expression") for value in values):
        return None
    return values if not found or _dumps_binary(found.pop(), connection) else None


def _all_aware(values: Sequence[Any]) -> bool:
    return all(value is None or value.utcoffset() is not None for value in values)


def _dumps_binary(kind: type, connection: Any) -> bool:
    from psycopg import ProgrammingError
    from psycopg.adapt import PyFormat

    try:
        connection.ensure_connection()
        connection.connection.adapters.get_dumper(kind, PyFormat.BINARY)
    except ProgrammingError:
        return False
    return True


def _has_converters(field: Any, connection: Any) -> bool:
    column = field.get_col(field.model._meta.db_table)
    return bool(connection.ops.get_db_converters(column) or field.get_db_converters(connection))


def _base_type(field: Any, connection: Any) -> str:
    """The column type without length or precision (``varchar``, not ``varchar(200)``), as
    Django casts its own ``UNNEST`` arrays: a longer value is refused, not truncated."""
    return str(field.db_type(connection)).split("(")[0]


def _binding_cursor(using: str) -> Any:
    """A cursor of ``using`` that binds parameters on the server, wrapped as Django wraps its
    own (query logging, ``execute_wrapper()``, Django's exceptions)."""
    connection = connections[using]
    connection.validate_thread_sharing()
    connection.ensure_connection()
    cursor_class = _server_binding_cursor_class()
    with connection.wrap_database_errors:
        cursor = cursor_class(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


@functools.cache
def _server_binding_cursor_class() -> Any:
    """Django's psycopg 3 cursor that binds on the server, never preparing a statement;
    ``None`` with psycopg 2."""
    try:
        from django.db.backends.postgresql import base
    except ImportError:  # no PostgreSQL driver
        return None
    parent: Any = getattr(base, "ServerBindingCursor", None)  # psycopg 3 only
    if parent is None:
        return None

    def execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        return parent.execute(self, query, params, prepare=False, binary=kwargs.get("binary"))

    return type("UnpreparedCursor", (parent,), {"execute": execute})
