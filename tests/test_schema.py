"""The OpenAPI description (drf-spectacular, an optional dependency) against real answers."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import pull, push

pytest.importorskip("drf_spectacular")


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

    from django_mobile_sync.idempotency import validate_key
    from django_mobile_sync.schema import IDEMPOTENCY_KEY_PATTERN

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
    from django_mobile_sync.schema import IDEMPOTENCY_KEY_PATTERN

    assert header["schema"]["pattern"] == IDEMPOTENCY_KEY_PATTERN
