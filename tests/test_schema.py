"""The OpenAPI description (drf-spectacular, an optional dependency) against real answers."""

from __future__ import annotations

import uuid

import pytest

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
