"""Rows a record's field refers to without a foreign key, held by the push that writes it.

A model field that defines :meth:`HoldingField.hold_referents` names rows a clean-up may
remove once nothing refers to them: a file reference (``django_mobile_sync.files``) names a
tenant's file, which ``purge_files`` removes when no live record references it. A push calls
:func:`hold_referents` with the live records it wrote, inside its transaction, so that the
clean-up either sees them committed or leaves those rows alone (docs/files.md#clean-up).
One call per kind of field, whatever the number of records, domains and fields: a push of
100 records costs what a push of one does. The core knows only this protocol, never the
optional app that implements it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from django.db import models

__all__ = ["HoldingField", "hold_referents"]


@runtime_checkable
class HoldingField(Protocol):
    """A model field whose values name rows a clean-up may remove."""

    attname: str

    @classmethod
    def hold_referents(cls, values: Sequence[tuple[Mapping[str, Any], Any]], using: str) -> None:
        """Keep the rows ``values`` name (each with the tenant scope of its record) from
        being removed until the current transaction ends."""
        ...


def hold_referents(
    written: Iterable[tuple[Mapping[str, Any], Sequence[models.Model]]], using: str
) -> None:
    """Hold what the holding fields of ``written`` (live records, each group with its tenant
    scope) refer to: one call per kind of field, none when no field holds anything."""
    held: dict[type[Any], list[tuple[Mapping[str, Any], Any]]] = {}
    for scope, records in written:
        if not records:
            continue
        fields = [
            field
            for field in type(records[0])._meta.concrete_fields
            if isinstance(field, HoldingField)
        ]
        for field in fields:
            values = [(scope, getattr(record, field.attname)) for record in records]
            held.setdefault(type(field), []).extend(v for v in values if v[1] not in (None, ""))
    for kind, values in held.items():
        if values:
            kind.hold_referents(values, using)
