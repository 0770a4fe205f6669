"""``sync_client_schema --format watermelondb``: the app schema of the mapped tables.

:func:`watermelon_schema` describes each table of ``MOBILE_SYNC["WATERMELON"]`` as the
endpoint serves it (:func:`.tables.to_raw`): references as indexed ``<field>_id`` string
columns, datetimes and dates as ISO 8601 strings, JSON values as JSON text, numbers (decimals
included) as numbers. The JSON is ready for
``appSchema({version, tables: tables.map(tableSchema)})`` (docs/clients/schemas.md).
"""

from __future__ import annotations

from typing import Any

from django_mobile_sync.api import ClientField, FieldKind, client_fields

from .tables import Table, watermelon_tables

__all__ = ["watermelon_schema"]

_NUMBERS = frozenset({FieldKind.INTEGER, FieldKind.NUMBER, FieldKind.DECIMAL})


def watermelon_schema(version: int | None = None) -> dict[str, Any]:
    """``{"version": N, "tables": [...]}``; ``N`` defaults to the highest
    ``min_client_schema_version`` of the mapped domains (or 1)."""
    tables = watermelon_tables()
    if version is None:
        minimums = [t.domain.min_client_schema_version or 1 for t in tables.values()]
        version = max(minimums, default=1)
    return {"version": version, "tables": [table_schema(t) for t in tables.values()]}


def table_schema(table: Table) -> dict[str, Any]:
    """One table: ``{"name": ..., "columns": [...]}`` for ``tableSchema()``."""
    return {
        "name": table.name,
        "columns": [column(table, field) for field in client_fields(table.domain)],
    }


def column(table: Table, field: ClientField) -> dict[str, Any]:
    """One column: its name, WatermelonDB type, optionality and index."""
    if field.kind is FieldKind.BOOLEAN:
        kind = "boolean"
    elif field.kind in _NUMBERS:
        kind = "number"
    else:
        kind = "string"
    reference = field.kind is FieldKind.REFERENCE
    return {
        "name": table.column_of(field.name),
        "type": kind,
        "isOptional": field.nullable,
        "isIndexed": reference,
    }
