"""The WatermelonDB endpoint as a whole: authentication, permissions, throttling, client
schema versions, its JSON errors and limits, and the checks of its settings."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from tests.helpers.api import make_user, new_id
from tests.helpers.watermelon import (
    URL,
    change_set,
    pull_response,
    push_changes,
    watermelon_settings,
)
from tests.testapp.models import Task

pytestmark = pytest.mark.usefixtures("uuid_tables")


@pytest.mark.parametrize(
    ("query", "body", "code"),
    [
        ("", {"changes": {}}, "invalid_last_pulled_at"),
        ("?last_pulled_at=abc", {"changes": {}}, "invalid_last_pulled_at"),
        ("?last_pulled_at=-4", {"changes": {}}, "invalid_last_pulled_at"),
        ("?last_pulled_at=5", [change_set()], "invalid_envelope"),
        ("?last_pulled_at=5", {"tasks": []}, "invalid_envelope"),
        ("?last_pulled_at=5", {"changes": []}, "invalid_envelope"),
        ("?last_pulled_at=5", {"tasks": {"created": [1]}}, "invalid_envelope"),
        ("?last_pulled_at=5", {"nope": change_set(deleted=["x"])}, "unknown_table"),
        ("?last_pulled_at=5", {"changes": {"nope": change_set(deleted=["x"])}}, "unknown_table"),
        ("?last_pulled_at=5", {"changes": {"tasks": {"created": {}}}}, "invalid_envelope"),
        ("?last_pulled_at=5", {"changes": {"tasks": {"created": [1]}}}, "invalid_envelope"),
        ("?last_pulled_at=5", {"changes": {"tasks": {"deleted": [{}]}}}, "invalid_envelope"),
        ("?last_pulled_at=5", {"changes": {"tasks": {"renamed": []}}}, "invalid_envelope"),
    ],
)
def test_a_malformed_push_is_a_json_400(client, query, body, code):
    response = client.post(URL + query, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert Task.objects.count() == 0


def test_a_push_above_the_record_limit_is_a_400_naming_it(client):
    changes = {"tasks": change_set(deleted=[new_id() for _ in range(3)])}
    with override_settings(
        MOBILE_SYNC={**watermelon_settings(), "WATERMELON_MAX_PUSH_RECORDS": 2}
    ):
        response = push_changes(client, 5, changes)
    assert response.status_code == 400
    assert "WATERMELON_MAX_PUSH_RECORDS" in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"last_pulled_at": "yesterday"},
        {"last_pulled_at": str(2**60)},
        {"migration": "{not json"},
        {"migration": json.dumps({"from": "one"})},
        {"migration": json.dumps({"from": 1, "columns": [{"table": "tasks"}]})},
    ],
)
def test_a_malformed_pull_is_a_json_400(client, params):
    response = client.get(URL, params)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("invalid_last_pulled_at", "invalid_migration")


def test_it_needs_authentication(db):
    response = APIClient().get(URL, {"last_pulled_at": "null"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_without_tables_it_answers_a_json_404(client):
    with override_settings(MOBILE_SYNC={**watermelon_settings(), "WATERMELON": {}}):
        response = client.get(URL)
    assert response.status_code == 404
    assert response.json()["code"] == "watermelon_not_configured"


def test_the_url_without_its_slash_says_so(client):
    response = client.post(URL.rstrip("/"), {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "missing_trailing_slash"


def test_pull_and_push_are_throttled_like_the_native_endpoints(db, org):
    api = APIClient()
    api.force_authenticate(make_user("throttled", org))
    rates = {"user": "1/hour", "device": None, "pull_user": "1/hour", "pull_device": None}
    with override_settings(MOBILE_SYNC={**watermelon_settings(), "THROTTLE_RATES": rates}):
        assert pull_response(api).status_code == 200
        assert pull_response(api).status_code == 429
        assert push_changes(api, 5, {}).status_code == 200
        assert push_changes(api, 5, {}).status_code == 429


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"tasks": "no-such-domain"}, "there is no domain named 'no-such-domain'"),
        ({"bad name": "tasks"}, "is not a WatermelonDB table name"),
    ],
)
def test_the_mapping_is_checked_at_start_up(mapping, message):
    from django.core.management.base import SystemCheckError

    with (
        override_settings(MOBILE_SYNC={**watermelon_settings(), "WATERMELON": mapping}),
        pytest.raises(SystemCheckError, match="E020") as raised,
    ):
        call_command("check")
    assert message in str(raised.value)


def test_a_schema_version_below_a_tables_minimum_is_refused_with_426(client, domain_options):
    with domain_options("checkitems", min_client_schema_version=3):
        refused = pull_response(client, schema_version=2)
        accepted = pull_response(client, schema_version=3)
        pushed = client.post(
            f"{URL}?last_pulled_at=5",
            {"changes": {}},
            format="json",
            headers={"X-Client-Schema-Version": "1"},
        )
    assert refused.status_code == 426
    assert refused.json() == {
        "detail": refused.json()["detail"],
        "code": "upgrade_required",
        "minimum_schema_version": 3,
    }
    assert accepted.status_code == 200
    assert pushed.status_code == 426


def test_a_user_who_may_use_no_table_is_refused_with_403(client, domain_options):
    from rest_framework.permissions import IsAdminUser

    with (
        domain_options("tasks", permission_classes=[IsAdminUser]),
        domain_options("checkitems", permission_classes=[IsAdminUser]),
    ):
        response = pull_response(client)
    assert response.status_code == 403


def test_a_deeply_nested_migration_is_a_400(client):
    response = client.get(URL, {"last_pulled_at": "5", "migration": "[" * 5000})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_migration"
