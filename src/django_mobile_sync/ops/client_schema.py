"""``sync_client_schema --format rxdb``: an RxDB JSON schema per declared domain.

Each schema has one property per wire field of the domain (types, ``enum`` from ``choices``,
``maxLength``, nullability, parent records as their ``mobile_id``), plus the protocol's
``mobile_id`` (the primary key), ``version`` and ``updated_at``. Only ``mobile_id`` is
required: a pulled tombstone carries nothing else (docs/clients/schemas.md).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from ..api import ClientField, FieldKind, client_fields
from ..domains import SyncDomain, get_domains
from ..records import uses_text_ids

__all__ = ["rxdb_schema", "rxdb_schemas"]

#: The longest ``mobile_id``: a UUID, or a text id of 1-64 characters.
MOBILE_ID_MAX_LENGTH = 64
_JSON_ANY = ["array", "object", "string", "number", "boolean", "null"]


def rxdb_schemas() -> dict[str, dict[str, Any]]:
    """``{domain name: RxDB JSON schema}`` for every declared domain, in declaration order."""
    return {domain.name: rxdb_schema(domain) for domain in get_domains().values()}


def rxdb_schema(domain: SyncDomain) -> dict[str, Any]:
    """The RxDB JSON schema of ``domain``'s documents."""
    properties: dict[str, Any] = {
        "mobile_id": {"type": "string", "maxLength": MOBILE_ID_MAX_LENGTH},
        "version": {"type": "integer", "minimum": 0},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    }
    for field in client_fields(domain):
        properties[field.name] = rxdb_property(domain, field)
    schema: dict[str, Any] = {
        "title": domain.name,
        "description": f"One `{domain.name}` record "
        f"({'text' if uses_text_ids(domain.model_class) else 'UUID'} ids).",
        "version": 0,
        "primaryKey": "mobile_id",
        "type": "object",
        "properties": properties,
        "required": ["mobile_id"],
    }
    return schema


def rxdb_property(domain: SyncDomain, field: ClientField) -> dict[str, Any]:
    """The JSON schema of one wire field's value."""
    prop: dict[str, Any]
    if field.kind is FieldKind.JSON:
        prop = {"type": json_type(domain, field.name)}
    elif field.kind is FieldKind.REFERENCE:
        prop = {"type": "string", "maxLength": MOBILE_ID_MAX_LENGTH}
    elif field.kind is FieldKind.BOOLEAN:
        prop = {"type": "boolean"}
    elif field.kind is FieldKind.INTEGER:
        prop = {"type": "integer"}
    elif field.kind is FieldKind.NUMBER or (
        field.kind is FieldKind.DECIMAL and not field.decimal_as_string
    ):
        prop = {"type": "number"}
    else:
        prop = {"type": "string"}
        formats = {FieldKind.DATETIME: "date-time", FieldKind.DATE: "date", FieldKind.TIME: "time"}
        if field.kind in formats:
            prop["format"] = formats[field.kind]
    if field.choices is not None:
        prop["enum"] = list(field.choices)
    if field.max_length is not None:
        prop["maxLength"] = field.max_length
    if prop["type"] in ("integer", "number"):
        if field.minimum is not None:
            prop["minimum"] = field.minimum
        if field.maximum is not None:
            prop["maximum"] = field.maximum
    if field.nullable and prop["type"] != _JSON_ANY:
        prop["type"] = [prop["type"], "null"]
        if "enum" in prop:
            prop["enum"].append(None)
    if field.read_only:
        prop["description"] = "Server-owned: shown on the device, ignored in a push."
    return prop


def json_type(domain: SyncDomain, name: str) -> str | list[str]:
    """A JSON field's type: an array or an object when its model field's default is one."""
    try:
        model_field = domain.model_class._meta.get_field(name)
    except FieldDoesNotExist:  # a serializer-only field: any JSON value
        return _JSON_ANY
    default = model_field.default if isinstance(model_field, models.Field) else None
    if default is list:
        return "array"
    if default is dict:
        return "object"
    return _JSON_ANY
