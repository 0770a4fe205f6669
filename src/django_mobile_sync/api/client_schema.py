"""What a device stores of each wire field of a domain: the source of generated client schemas.

:func:`client_fields` reads the domain's serializer (the one its service picks, declared or
built from the declaration), so a generated schema describes exactly what the endpoints send
and accept: the JSON type of each value, whether it may be ``null``, its choices, its maximum
length, whether the server owns it and whether it names a parent record (docs/clients/schemas.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rest_framework import serializers
from rest_framework.settings import api_settings

from ..records import deriving_fields
from ..serializers import ReferenceField

if TYPE_CHECKING:
    from ..domains import SyncDomain

__all__ = ["ClientField", "FieldKind", "client_fields"]


class FieldKind(enum.Enum):
    """The shape of a field's value on the wire."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"  # an ISO 8601 string in UTC
    DATE = "date"  # YYYY-MM-DD
    TIME = "time"
    DECIMAL = "decimal"  # a decimal string, or a number where the field says so
    JSON = "json"  # any JSON value
    REFERENCE = "reference"  # the parent record's mobile_id


@dataclass(frozen=True)
class ClientField:
    """One wire field of a domain as a client schema describes it.

    Attributes:
        name: the wire field name.
        kind: the shape of its value.
        nullable: ``null`` is a value it may have.
        read_only: the server owns it (a device reads it, its pushes of it are ignored).
        choices: the values it may take, in declaration order (``""`` first where blank is
            allowed; whole numbers for an integer field's choices), or ``None``.
        max_length: the longest string it takes, or ``None``.
        minimum, maximum: the smallest and largest number it takes, or ``None``.
        decimal_as_string: a decimal sent as a string (DRF's default) rather than a number.
    """

    name: str
    kind: FieldKind
    nullable: bool
    read_only: bool
    choices: tuple[str | int, ...] | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    decimal_as_string: bool = True


#: The largest integer a JavaScript number holds exactly.
JS_SAFE_INTEGER = 2**53 - 1

#: Serializer field classes and the kind they give, most specific first.
_KINDS: tuple[tuple[type[Any], FieldKind], ...] = (
    (ReferenceField, FieldKind.REFERENCE),
    (serializers.BooleanField, FieldKind.BOOLEAN),
    (serializers.DateTimeField, FieldKind.DATETIME),
    (serializers.DateField, FieldKind.DATE),
    (serializers.TimeField, FieldKind.TIME),
    (serializers.DecimalField, FieldKind.DECIMAL),
    (serializers.IntegerField, FieldKind.INTEGER),
    (serializers.FloatField, FieldKind.NUMBER),
    (serializers.JSONField, FieldKind.JSON),
    (serializers.ListField, FieldKind.JSON),
    (serializers.DictField, FieldKind.JSON),
    (serializers.ModelField, FieldKind.JSON),
)


def field_kind(field: serializers.Field[Any, Any, Any, Any]) -> FieldKind:
    """The kind of ``field``'s value (a string unless it is one of the known field classes)."""
    for field_class, kind in _KINDS:
        if isinstance(field, field_class):
            return kind
    return FieldKind.STRING


def client_fields(domain: SyncDomain) -> list[ClientField]:
    """The wire fields of ``domain`` (not the protocol's keys), in the serializer's order,
    each followed by the fields it derives in a pull (a file reference's ``<field>_available``,
    ``<field>_size`` and ``<field>_content_type``: read-only)."""
    from ..service import service_outside_request

    serializer = service_outside_request(domain).get_serializer_class()()
    derived = {f.name: f for f in deriving_fields(domain.model_class)}
    described = []
    for name, field in serializer.fields.items():
        described.append(describe(name, field))
        if name in derived:
            extra = derived[name].derived_serializer_fields()
            described += [describe(n, f) for n, f in extra.items()]
    return described


def describe(name: str, field: serializers.Field[Any, Any, Any, Any]) -> ClientField:
    """One serializer field as a :class:`ClientField`."""
    kind = field_kind(field)
    choices: tuple[str | int, ...] | None = None
    if isinstance(field, serializers.ChoiceField) and not isinstance(
        field, serializers.MultipleChoiceField
    ):
        keys = list(field.choices)
        if keys and all(type(key) is int for key in keys):
            kind, choices = FieldKind.INTEGER, tuple(keys)  # an IntegerField with choices
        else:
            values: list[str | int] = [str(key) for key in keys]
            if getattr(field, "allow_blank", False) and "" not in values:
                values.insert(0, "")
            choices = tuple(values)
    max_length = getattr(field, "max_length", None)
    if kind is not FieldKind.STRING or not isinstance(max_length, int):
        max_length = None
    return ClientField(
        name=name,
        kind=kind,
        nullable=bool(field.allow_null),
        read_only=bool(field.read_only),
        choices=choices,
        max_length=max_length,
        minimum=bound(getattr(field, "min_value", None)),
        maximum=bound(getattr(field, "max_value", None)),
        decimal_as_string=bool(
            getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        ),
    )


def bound(value: Any) -> float | None:
    """A numeric bound a JavaScript number holds exactly (decimals as floats), or ``None``.

    Bounds past ``2**53 - 1`` (a 64-bit column's) say nothing a client can check.
    """
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = value if isinstance(value, int | float) else float(value)
    except (TypeError, ValueError):
        return None
    return number if abs(number) <= JS_SAFE_INTEGER else None
