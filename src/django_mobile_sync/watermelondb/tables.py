"""WatermelonDB tables: which domain each one is, and its records in WatermelonDB's raw form.

``MOBILE_SYNC["WATERMELON"]`` maps a WatermelonDB table name to a declared domain. A table's
columns are the domain's wire fields, except references (docs/relations.md), which are the column
``<field>_id`` holding the parent's id. A record's ``id`` is its ``mobile_id``.

:func:`to_raw` turns a record's wire form (what a pull page serves) into WatermelonDB's raw
record, with values its column types keep (``docs/design/watermelon-protocol.md``): JSON
values become JSON-encoded strings, decimals numbers. :func:`to_entry` turns a pushed raw
record into a push entry of the native protocol, ignoring ``_status``, ``_changed`` and
columns the domain does not have.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models

from django_mobile_sync.conf import sync_settings
from django_mobile_sync.domains import SyncDomain, get_domain
from django_mobile_sync.records import reference_fields

#: What a WatermelonDB table name may be (it is also a key of the pull's ``changes``).
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
#: Wire keys every pulled item has, that are not columns.
ITEM_KEYS = frozenset({"mobile_id", "version", "deleted", "updated_at"})

#: Types of values :func:`raw_value` keeps as they are (outside JSON and decimal fields).
PLAIN = frozenset({str, bool, int, type(None)})


@dataclass(frozen=True)
class Table:
    """One WatermelonDB table and the domain it syncs.

    Attributes:
        name: the table's name in the app's schema.
        domain: the declared domain.
        columns: column name → wire field name, for the fields a device may write.
        readable: column name → wire field name, for every field a device reads.
        references: wire field name → column name, for references to synced records.
        decimals, json_fields: wire fields with decimal and JSON values.
    """

    name: str
    domain: SyncDomain
    columns: dict[str, str] = field(default_factory=dict)
    readable: dict[str, str] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    decimals: frozenset[str] = frozenset()
    json_fields: frozenset[str] = frozenset()

    def column_of(self, wire_field: str) -> str:
        """The column holding ``wire_field``."""
        return self.references.get(wire_field, wire_field)

    def field_of(self, column: str) -> str | None:
        """The wire field of ``column``, or ``None`` if the table has no such column."""
        return self.columns.get(column)


def watermelon_tables() -> dict[str, Table]:
    """The tables of ``MOBILE_SYNC["WATERMELON"]``, read now (so settings overrides apply).

    Tables naming an unknown domain are left out (a system check reports them).
    """
    mapping = sync_settings.WATERMELON or {}
    tables = {}
    for name, domain_name in mapping.items():
        domain = get_domain(domain_name)
        if domain is not None:
            tables[name] = describe_table(name, domain)
    return tables


def describe_table(name: str, domain: SyncDomain) -> Table:
    """The columns of ``domain`` as WatermelonDB table ``name``."""
    references = {wire: f"{wire}_id" for wire in reference_fields(domain)}
    readable = {references.get(wire, wire): wire for wire in domain.wire_fields}
    read_only = domain.read_only_fields
    columns = {column: wire for column, wire in readable.items() if wire not in read_only}
    model_fields = {f.name: f for f in domain.model_class._meta.concrete_fields}
    decimals = frozenset(
        w for w in domain.wire_fields if isinstance(model_fields.get(w), models.DecimalField)
    )
    json_fields = frozenset(
        w for w in domain.wire_fields if isinstance(model_fields.get(w), models.JSONField)
    )
    return Table(name, domain, columns, readable, references, decimals, json_fields)


def to_raw(table: Table, item: dict[str, Any]) -> dict[str, Any]:
    """A pulled item (the wire form of a live record) as a WatermelonDB raw record."""
    raw: dict[str, Any] = {}
    special, column_of = table.json_fields | table.decimals, table.references.get
    for wire, value in item.items():
        if wire in ITEM_KEYS or wire.startswith("_"):
            continue  # WatermelonDB refuses records with _status, _changed or __proto__
        if type(value) in PLAIN and wire not in special:  # as raw_value() keeps it
            raw[column_of(wire, wire)] = value
        else:
            raw[column_of(wire, wire)] = raw_value(table, wire, value)
    raw["id"] = item["mobile_id"]
    return raw


def raw_value(table: Table, wire: str, value: Any) -> Any:
    """``value`` as a WatermelonDB column keeps it: strings, finite numbers, booleans.

    A JSON field's value, whatever it holds, is its JSON text (what ``@json`` stores).
    """
    if wire in table.json_fields:
        return None if value is None else json.dumps(value, separators=(",", ":"), default=str)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # not JSON: WatermelonDB would fail the whole pull
    if value is None or isinstance(value, bool | int | float):
        return value
    if wire in table.decimals:
        number = float(Decimal(str(value)))
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def to_entry(table: Table, raw: dict[str, Any], *, deleted: bool = False) -> dict[str, Any]:
    """A pushed raw record (or a deleted id) as a native push entry.

    The entry's ``version`` is left out: a WatermelonDB push is applied over the current
    version (:attr:`~django_mobile_sync.engine.ApplyMode.CURRENT`).
    """
    entry: dict[str, Any] = {"mobile_id": raw.get("id")}
    if deleted:
        entry["deleted"] = True
        return entry
    for column, value in raw.items():
        wire = table.field_of(column)
        if wire is None:
            continue  # _status, _changed, id, and columns the domain does not have
        entry[wire] = entry_value(table, wire, value)
    return entry


def entry_value(table: Table, wire: str, value: Any) -> Any:
    """A column value as the domain's serializer reads it.

    WatermelonDB stores an unset optional column as ``null`` but an unset required one as
    ``""``: an empty string is no value for a reference. A JSON field arrives as the JSON
    text WatermelonDB's ``@json`` stores.
    """
    if wire in table.references and value == "":
        return None
    if wire in table.json_fields and isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value  # the serializer reports it, or stores the text
    return value


def empty_value(model_field: Any) -> Any:
    """The value WatermelonDB gives a column never set: what a migration sync skips."""
    if isinstance(model_field, models.BooleanField):
        return False
    if isinstance(model_field, models.CharField | models.TextField):
        return ""
    if isinstance(model_field, models.IntegerField | models.FloatField | models.DecimalField):
        return 0
    return None
