"""The OpenAPI schema (drf-spectacular) and the docs page."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from django_mobile_sync.records.ids import TEXT_ID_PATTERN

FILES_PATHS = [
    "/api/v1/sync/files/",
    "/api/v1/sync/files/{upload_id}",
    "/api/v1/sync/files/sha256/{sha256}",
]
DOMAINS = ["activity", "work-orders", "attendance", "helpdesk", "checklist", "journal", "photos"]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_schema_validates_without_warnings(schema: dict[str, Any]) -> None:
    paths = set(schema["paths"])
    assert paths == {
        *(f"/api/v1/sync/{d}/{kind}/" for d in DOMAINS for kind in ("sync", "changes")),
        "/api/v1/sync/sync/",
        "/api/v1/sync/changes/",
        "/api/v1/sync/watermelon/",
        *FILES_PATHS,
    }
    assert not any("{domain}" in path for path in paths)  # generic fallbacks left out


def test_files_operations(schema: dict[str, Any]) -> None:
    """docs/files.md: tus creation, chunk and termination, and downloads by digest."""
    create, upload, blob = (schema["paths"][path] for path in FILES_PATHS)
    assert set(create) == {"post"} and set(upload) == {"patch", "delete"} and set(blob) == {"get"}
    for operation in (create["post"], upload["patch"], upload["delete"], blob["get"]):
        assert operation["tags"] == ["files"]
        assert {"401", "429"} <= set(operation["responses"])
        assert "Retry-After" in operation["responses"]["429"]["headers"]
    headers = {p["name"]: p for p in create["post"]["parameters"] if p["in"] == "header"}
    assert {"Tus-Resumable", "Upload-Length", "Upload-Metadata"} <= set(headers)
    assert headers["Tus-Resumable"]["schema"] == {"type": "string", "enum": ["1.0.0"]}
    assert set(create["post"]["responses"]["201"]["headers"]) >= {"Location", "Upload-Expires"}
    patch = upload["patch"]
    assert set(patch["requestBody"]["content"]) == {"application/offset+octet-stream"}
    assert {"204", "409", "412", "423", "460"} <= set(patch["responses"])
    assert "Upload-Offset" in patch["responses"]["204"]["headers"]
    assert {"200", "206", "304", "404", "416"} <= set(blob["get"]["responses"])


@pytest.mark.parametrize("domain", DOMAINS)
def test_push_operation(schema: dict[str, Any], domain: str) -> None:
    operation = schema["paths"][f"/api/v1/sync/{domain}/sync/"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert {"Idempotency-Key", "X-Device-Id"} <= headers
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    entry = component(schema, component(schema, body)["properties"]["entries"]["items"]["$ref"])
    assert {"mobile_id", "version", "deleted"} <= set(entry["properties"])
    assert entry["required"] == ["mobile_id"]
    responses = operation["responses"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PushResponse"
    )
    assert "Idempotent-Replayed" in responses["200"]["headers"]
    assert {"400", "401", "409", "413", "415", "422", "429"} <= set(responses)


@pytest.mark.parametrize(
    ("domain", "filters"),
    [
        ("activity", set()),
        ("work-orders", {"status"}),
        ("attendance", {"date_from"}),
        ("helpdesk", {"priority"}),
        ("journal", {"date_from"}),
    ],
)
def test_pull_operation(schema: dict[str, Any], domain: str, filters: set[str]) -> None:
    operation = schema["paths"][f"/api/v1/sync/{domain}/changes/"]["get"]
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert query == {"cursor", "limit", "since"} | filters
    responses = operation["responses"]
    assert responses["410"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ResetRequired"
    )
    page = component(schema, responses["200"]["content"]["application/json"]["schema"]["$ref"])
    record = component(schema, page["properties"]["items"]["items"]["$ref"])
    assert {"mobile_id", "version", "deleted", "updated_at"} <= set(record["properties"])


def test_records_carry_the_wire_fields(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert set(components["ActivityRecord"]["properties"]) >= {
        "jobdesc",
        "plandatetime",
        "expirydatetime",
        "gracetime",
        "priority",
        "jobstatus",
        "jobtype",
        "latitude",
        "longitude",
    }
    helpdesk = components["HelpdeskRecord"]["properties"]
    assert all(
        helpdesk[f]["readOnly"] for f in ("is_escalated", "escalation_level", "ticket_history")
    )
    assert not {"is_escalated", "ticket_history"} & set(
        components["HelpdeskRecordRequest"]["properties"]
    )
    assert "client" not in components["AttendanceRecord"]["properties"]
    date_from = next(
        p
        for p in schema["paths"]["/api/v1/sync/attendance/changes/"]["get"]["parameters"]
        if p["name"] == "date_from"
    )
    assert date_from["schema"] == {"type": "string", "format": "date"}


def test_schema_and_docs_are_served(client: Any) -> None:
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_library_works_without_drf_spectacular() -> None:
    """The library imports drf-spectacular only when a project generates a schema with it."""
    code = textwrap.dedent("""
        import sys
        sys.modules["drf_spectacular"] = None  # as if it were not installed
        import django
        from django.conf import settings
        settings.configure(INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes",
                                           "rest_framework", "django_mobile_sync"])
        django.setup()
        from django_mobile_sync.views import sync_views
        push, _ = sync_views("anything")
        print(type(push().schema).__module__)
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "rest_framework.schemas.openapi"


def component(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]  # type: ignore[no-any-return]


def test_a_reference_is_a_text_id_and_the_multi_domain_endpoints_name_every_domain(
    schema: dict[str, Any],
) -> None:
    # The models take WatermelonDB's ids besides UUIDs: ids and references say so.
    record = component(schema, "#/components/schemas/ChecklistRecord")
    for name in ("mobile_id", "work_order"):
        assert record["properties"][name]["type"] == "string"
        assert record["properties"][name]["pattern"] == TEXT_ID_PATTERN
        assert record["properties"][name]["maxLength"] == 64
        assert "format" not in record["properties"][name]
    push = schema["paths"]["/api/v1/sync/sync/"]["post"]
    body = component(schema, push["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    domains = component(schema, body["properties"]["domains"]["$ref"])
    assert set(domains["properties"]) == set(DOMAINS)
    pull = schema["paths"]["/api/v1/sync/changes/"]["get"]
    assert {"cursor", "limit", "domains"} <= {p["name"] for p in pull["parameters"]}
    page = pull["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    changes = component(schema, component(schema, page)["properties"]["changes"]["$ref"])
    assert set(changes["properties"]) == set(DOMAINS)


def test_the_watermelondb_endpoint_is_described(schema: dict[str, Any]) -> None:
    """Its tables' raw records have the columns ``sync_client_schema`` generates."""
    operations = schema["paths"]["/api/v1/sync/watermelon/"]
    pull, push = operations["get"], operations["post"]
    assert (pull["operationId"], push["operationId"]) == ("watermelon_pull", "watermelon_push")
    assert {p["name"] for p in pull["parameters"]} >= {
        "last_pulled_at",
        "schema_version",
        "migration",
    }
    page = component(
        schema, pull["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert set(page["properties"]) == {"changes", "timestamp"}
    changes = component(schema, page["properties"]["changes"]["$ref"])
    assert set(changes["properties"]) == {
        "activity",
        "work_orders",
        "attendance",
        "helpdesk",
        "journal",
        "checklist",
        "photos",
    }
    steps = component(schema, changes["properties"]["checklist"]["$ref"])
    raw = component(schema, steps["properties"]["created"]["items"]["$ref"])
    assert list(raw["properties"]) == ["id", "work_order_id", "label", "done", "position"]
    body = push["requestBody"]["content"]
    assert set(body) == {"application/json", "text/plain"}  # pushChanges' JSON.stringify
    assert {"200", "400", "401", "409", "426", "429"} <= set(push["responses"])
    assert "410" not in pull["responses"]


def test_two_domains_of_one_model_need_enum_name_overrides(settings: Any) -> None:
    """docs/openapi.md: a second domain over ``WorkOrder`` gives three components with a
    ``status`` field of two choice sets; drf-spectacular warns until ``ENUM_NAME_OVERRIDES``
    names them."""
    from drf_spectacular import plumbing
    from drf_spectacular.settings import patched_settings

    from django_mobile_sync.domains import SyncDomain

    mine = SyncDomain(
        name="my-work-orders",
        model="field_ops.WorkOrder",
        fields=["description", "status"],
        tenant_fields=["client", "bu"],
        scope="field_ops.tenancy.user_scope",
    )
    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "DOMAINS": [*settings.MOBILE_SYNC["DOMAINS"], mine],
    }
    overrides = {
        "WorkOrderStatusEnum": "field_ops.models.WorkOrder.Status",
        "TicketStatusEnum": "field_ops.models.Ticket.Status",
    }
    for patch, fails in (({}, True), ({"ENUM_NAME_OVERRIDES": overrides}, False)):
        plumbing._load_enum_name_overrides.cache_clear()  # drf-spectacular reads them once
        with patched_settings(patch):
            if fails:
                with pytest.raises(Exception, match="Failing as requested due to warnings"):
                    call_command(
                        "spectacular", "--fail-on-warn", stdout=StringIO(), stderr=StringIO()
                    )
                continue
            out = StringIO()
            call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    plumbing._load_enum_name_overrides.cache_clear()
    enums = {name for name in yaml.safe_load(out.getvalue())["components"]["schemas"]}
    assert {"WorkOrderStatusEnum", "TicketStatusEnum"} <= enums
