"""Generated client schemas of the test project's domains (docs/clients/schemas.md): what
each serializer field becomes, for RxDB and TypeScript."""

from __future__ import annotations

from rest_framework import serializers

from django_mobile_sync.api import FieldKind
from django_mobile_sync.api.client_schema import describe
from django_mobile_sync.domains import get_domain
from django_mobile_sync.ops.client_schema import rxdb_property, rxdb_schema, typescript_types


def test_the_tasks_domain_as_rxdb() -> None:
    domain = get_domain("tasks")
    assert domain is not None
    schema = rxdb_schema(domain)
    assert schema["primaryKey"] == "mobile_id" and schema["required"] == ["mobile_id"]
    properties = schema["properties"]
    assert properties["title"] == {"type": "string", "maxLength": 200}
    assert properties["status"] == {"type": "string", "enum": ["todo", "doing", "done"]}
    assert properties["priority"] == {"type": "integer", "minimum": 0, "maximum": 5}
    assert properties["due_at"] == {"type": ["string", "null"], "format": "date-time"}


def test_integer_choices_stay_numbers() -> None:
    field = describe("level", serializers.ChoiceField(choices=[(1, "low"), (2, "high")]))
    assert (field.kind, field.choices) == (FieldKind.INTEGER, (1, 2))
    domain = get_domain("tasks")
    assert domain is not None
    assert rxdb_property(domain, field) == {"type": "integer", "enum": [1, 2]}


def test_nullable_choices_admit_null() -> None:
    field = describe("size", serializers.ChoiceField(choices=["S", "M"], allow_null=True))
    domain = get_domain("tasks")
    assert domain is not None
    assert rxdb_property(domain, field) == {"type": ["string", "null"], "enum": ["S", "M", None]}


def test_typescript_types_name_every_domain() -> None:
    text = typescript_types()
    assert "export type TasksRecord = {" in text
    assert '  status?: "todo" | "doing" | "done";' in text
    assert "  priority?: number;" in text
