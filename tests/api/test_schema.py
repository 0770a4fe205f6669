"""The OpenAPI description (drf-spectacular, an optional dependency) against real answers."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.api import pull, push
from tests.helpers.tools import require_module

require_module("drf_spectacular")


@pytest.fixture
def openapi(settings):
    from drf_spectacular.generators import SchemaGenerator

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    return SchemaGenerator().get_schema(request=None, public=True)


def test_a_pulled_tombstone_has_every_required_field_of_a_record(client, openapi):
    """Found by schemathesis: read-only domain fields (server-owned ``approved``, the
    ``history``) were required in the record schema, which a tombstone does not carry."""
    mobile_id = str(uuid.uuid4())
    assert push(client, [{"mobile_id": mobile_id, "title": "t"}]).status_code == 200
    deleted = push(client, [{"mobile_id": mobile_id, "version": 1, "deleted": True}])
    assert deleted.json()["synced_items"][0]["status"] == "deleted"
    [tombstone] = pull(client).json()["items"]
    assert tombstone["deleted"] is True
    record = openapi["components"]["schemas"]["TasksRecord"]
    assert {"approved", "history"} <= record["properties"].keys()
    assert set(record["required"]) <= tombstone.keys()
    assert set(record["required"]) == {"mobile_id", "updated_at"}


@given(
    key=st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
    | st.from_regex(r"[ -~]{1,300}", fullmatch=True)
)
def test_the_idempotency_key_schema_is_what_the_server_accepts(key):
    from rest_framework.exceptions import ValidationError

    from django_mobile_sync.api.idempotency import validate_key
    from django_mobile_sync.api.schema import IDEMPOTENCY_KEY_PATTERN

    described = re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key) is not None and 1 <= len(key) <= 255
    try:
        validate_key(key)
        accepted = True
    except ValidationError:
        accepted = False
    assert described == accepted, repr(key)


def test_the_push_operation_describes_the_idempotency_key(openapi):
    operation = openapi["paths"]["/api/sync/tasks/sync/"]["post"]
    [header] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["schema"]["minLength"] == 1 and header["schema"]["maxLength"] == 255
    from django_mobile_sync.api.schema import IDEMPOTENCY_KEY_PATTERN

    assert header["schema"]["pattern"] == IDEMPOTENCY_KEY_PATTERN


def test_ids_are_described_per_model_uuid_or_text(openapi):
    """``format: uuid`` where the model has UUID ids; the text-id rule where it opted in."""
    from django_mobile_sync.records.ids import TEXT_ID_PATTERN

    schemas = openapi["components"]["schemas"]
    text = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": TEXT_ID_PATTERN}
    tasks, sheets, folders = (schemas[f"{n}Record"] for n in ("Tasks", "Sheets", "Folders"))
    assert tasks["properties"]["mobile_id"] == {"type": "string", "format": "uuid"}
    assert schemas["CheckitemsRecord"]["properties"]["task"]["format"] == "uuid"
    for record in (sheets, folders):
        assert text.items() <= record["properties"]["mobile_id"].items()
    assert text.items() <= sheets["properties"]["folder"].items()
    assert "format" not in sheets["properties"]["folder"]
    assert sheets["properties"]["task"]["format"] == "uuid"
    assert sheets["properties"]["task"]["nullable"] is True
    assert text.items() <= folders["properties"]["parent"].items()
    # Answers echo the id as the device sent it: any text.
    for name in ("SyncedItem", "ConflictItem"):
        assert schemas[name]["properties"]["mobile_id"]["type"] == "string"
        assert "format" not in schemas[name]["properties"]["mobile_id"]


@given(st.text(max_size=70) | st.from_regex(r"[A-Za-z0-9_-]{1,70}", fullmatch=True))
def test_the_text_id_pattern_is_exactly_what_the_server_accepts(value):
    from django_mobile_sync.records.ids import TEXT_ID_PATTERN, read_mobile_id

    described = re.search(TEXT_ID_PATTERN, value) is not None and "\n" not in value
    # Accepted ids are kept byte for byte; nothing else is rewritten into one.
    assert read_mobile_id(value, text=True) == (value if described else None)
