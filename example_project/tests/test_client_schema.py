"""``manage.py sync_client_schema``: the example's client schemas, and that they describe
exactly what the endpoints send (docs/clients/schemas.md).

The demo data is pulled through the WatermelonDB endpoint and the native one, and every record
must fit the generated schema: the columns and their types, the RxDB JSON schemas (validated
with ``jsonschema``). The real clients sync with these schemas too (``clients/``).
"""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import jsonschema
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from field_ops.demo import seed
from field_ops.models import UserProfile
from tests.conftest import ON_POSTGRES
from tests.helpers.devices import Device

WATERMELON_TYPES = {"string": str, "number": (int, float), "boolean": bool}


def generated(*args: str) -> Any:
    out = StringIO()
    call_command("sync_client_schema", *args, stdout=out)
    return json.loads(out.getvalue())


def test_watermelondb_schema_of_the_example() -> None:
    schema = generated("--format", "watermelondb")
    # The highest min_client_schema_version of the mapped domains (work-orders, checklist: 2).
    assert schema["version"] == 2
    tables = {table["name"]: table["columns"] for table in schema["tables"]}
    assert list(tables) == [
        "activity",
        "work_orders",
        "attendance",
        "helpdesk",
        "journal",
        "checklist",
        "photos",
    ]
    # A file reference and what it derives in a pull (docs/files.md): read-only columns.
    assert [(c["name"], c["type"], c["isOptional"]) for c in tables["photos"][1:5]] == [
        ("file", "string", False),
        ("file_available", "boolean", False),
        ("file_size", "number", True),
        ("file_content_type", "string", True),
    ]
    assert tables["checklist"] == [
        {"name": "work_order_id", "type": "string", "isOptional": False, "isIndexed": True},
        {"name": "label", "type": "string", "isOptional": False, "isIndexed": False},
        {"name": "done", "type": "boolean", "isOptional": False, "isIndexed": False},
        {"name": "position", "type": "number", "isOptional": False, "isIndexed": False},
    ]
    work_orders = {c["name"]: c for c in tables["work_orders"]}
    assert work_orders["scheduled_start"] == {
        "name": "scheduled_start",
        "type": "string",  # ISO 8601, as the endpoint sends datetimes
        "isOptional": True,
        "isIndexed": False,
    }
    helpdesk = {c["name"]: c["type"] for c in tables["helpdesk"]}
    assert helpdesk == {
        "ticketdesc": "string",
        "status": "string",
        "priority": "string",
        "is_escalated": "boolean",
        "escalation_level": "number",
        "ticket_history": "string",  # JSON text, as @json stores it
    }
    assert generated("--format", "watermelondb", "--schema-version", "3")["version"] == 3


def test_rxdb_schemas_of_the_example() -> None:
    schemas = generated("--format", "rxdb")
    assert list(schemas) == [
        "activity",
        "work-orders",
        "attendance",
        "helpdesk",
        "checklist",
        "photos",
        "journal",
    ]
    for schema in schemas.values():
        assert schema["primaryKey"] == "mobile_id" and schema["required"] == ["mobile_id"]
        assert schema["properties"]["mobile_id"] == {"type": "string", "maxLength": 64}
    work_orders = schemas["work-orders"]["properties"]
    assert work_orders["status"] == {
        "type": "string",
        "enum": ["draft", "in_progress", "paused", "completed", "closed", "cancelled"],
    }
    assert work_orders["actual_end"] == {"type": ["string", "null"], "format": "date-time"}
    checklist = schemas["checklist"]["properties"]
    assert checklist["work_order"] == {"type": "string", "maxLength": 64}
    assert checklist["label"] == {"type": "string", "maxLength": 200}
    journal = schemas["journal"]["properties"]
    assert journal["mood"]["enum"] == ["", "GREAT", "GOOD", "OKAY", "BAD"]  # blank allowed
    assert journal["entry_date"] == {"type": "string", "format": "date"}
    activity = schemas["activity"]["properties"]
    assert activity["latitude"] == {"type": ["number", "null"], "minimum": -90, "maximum": 90}
    # The column's range: PostgreSQL's integer; SQLite's 2**63 - 1 is past what JS holds.
    bounds = {"maximum": 2**31 - 1} if ON_POSTGRES else {}
    assert activity["gracetime"] == {"type": "integer", "minimum": 0, **bounds}
    ticket = schemas["helpdesk"]["properties"]
    assert ticket["ticket_history"]["type"] == "array"
    assert "Server-owned" in ticket["is_escalated"]["description"]


def test_typescript_types_of_the_example() -> None:
    """A type per domain's record; the example app compiles with them (clients/app)."""
    out = StringIO()
    call_command("sync_client_schema", "--format", "typescript", stdout=out)
    text = out.getvalue()
    assert text.startswith("// The records of each domain, as the server sends them")
    assert text.count("export type ") == 7
    journal = text[text.index("export type JournalRecord = {") :].split("};")[0]
    assert journal.splitlines()[1:] == [
        "  mobile_id: string;",
        "  version?: number;",
        "  updated_at?: string | null;",
        "  entry_date?: string;",
        "  title?: string;",
        "  body?: string;",
        '  mood?: "" | "GREAT" | "GOOD" | "OKAY" | "BAD";',
    ]
    helpdesk = text[text.index("export type HelpdeskRecord = {") :].split("};")[0]
    assert "  readonly is_escalated?: boolean;" in helpdesk
    assert "  readonly ticket_history?: unknown[];" in helpdesk
    assert "  work_order?: string;" in text and "  actual_end?: string | null;" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--format", "sqlite"],
            "Unknown format 'sqlite'; choose one of: rxdb, typescript, watermelondb.",
        ),
        (
            ["--format", "rxdb", "--schema-version", "3"],
            "--schema-version applies to --format watermelondb only.",
        ),
        (
            ["--format", "watermelondb", "--schema-version", "0"],
            "--schema-version must be 1 or more.",
        ),
    ],
)
def test_bad_arguments_end_in_one_line(args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as error:
        call_command("sync_client_schema", *args, stdout=StringIO())
    assert str(error.value) == message


def test_without_the_watermelondb_app_the_format_is_unknown(settings: Any) -> None:
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if app != "django_mobile_sync.watermelondb"
    ]
    with pytest.raises(CommandError) as error:
        call_command("sync_client_schema", "--format", "watermelondb", stdout=StringIO())
    assert str(error.value) == (
        "Unknown format 'watermelondb'; choose one of: rxdb, typescript. "
        "Add 'django_mobile_sync.watermelondb' to INSTALLED_APPS."
    )


@pytest.fixture
def demo_device(db: Any) -> Device:
    users = seed()["users"]
    username, _, token = users[0]
    # A supervisor sees every record of the tenant (docs/views.md): a worker's view would
    # leave out the other workers' punches, and the demo's attendance is theirs.
    UserProfile.objects.filter(user__username=username).update(role=UserProfile.Role.SUPERVISOR)
    return Device(get_user_model().objects.get(username=username), token, "schema-phone")


def test_what_the_watermelondb_endpoint_sends_fits_the_schema(demo_device: Device) -> None:
    schema = generated("--format", "watermelondb")
    answer = demo_device.api.get(
        "/api/v1/sync/watermelon/", {"last_pulled_at": "null", "schema_version": "2"}
    )
    assert answer.status_code == 200, answer.content
    changes = json.loads(b"".join(answer.streaming_content))["changes"]
    checked = 0
    for table in schema["tables"]:
        columns = {column["name"]: column for column in table["columns"]}
        records = changes[table["name"]]["created"] + changes[table["name"]]["updated"]
        assert records, f"the demo has no {table['name']} record"
        for raw in records:
            assert set(raw) == {"id", *columns}, table["name"]
            for name, column in columns.items():
                value = raw[name]
                if value is None:
                    assert column["isOptional"], (table["name"], name)
                else:
                    assert isinstance(value, WATERMELON_TYPES[column["type"]]), (name, value)
                    assert column["type"] == "boolean" or not isinstance(value, bool), name
                checked += 1
    assert checked > 50


def test_what_the_native_endpoints_send_fits_the_rxdb_schemas(demo_device: Device) -> None:
    for domain, schema in generated("--format", "rxdb").items():
        items, _ = demo_device.pull_all(domain)
        assert items, f"the demo has no {domain} record"
        for item in items:
            document = {k: v for k, v in item.items() if k != "deleted"}
            jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
            assert set(document) <= set(schema["properties"]), domain
