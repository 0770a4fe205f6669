"""Client schema versions (docs/protocol.md#client-schema-versions): below a domain's
minimum, a 426 naming it; nothing is read, applied or stored for a replay."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.exceptions import ValidationError

from django_mobile_sync.api.client_versions import (
    UpgradeRequired,
    check_client_schema,
    minimum_schema_version,
)
from django_mobile_sync.checks import check_domains
from django_mobile_sync.domains import SyncDomain
from django_mobile_sync.models import IdempotencyRecord, SyncBatch
from tests.helpers.api import CHANGES, PULL_URL, PUSH_URL, SYNC, multi_push, new_id, pull, push
from tests.helpers.tools import require_module
from tests.testapp.models import Checkitem, Task

HEADER = "X-Client-Schema-Version"


def schema(version: str | None) -> dict[str, str]:
    return {} if version is None else {HEADER: version}


@pytest.fixture
def minimum(domain_options: Any) -> Any:
    """``tasks`` accepts client schema 2 and later; the other domains any."""
    with domain_options(min_client_schema_version=2):
        yield


def assert_upgrade_required(response: Any, minimum: int = 2) -> None:
    assert response.status_code == 426, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["detail", "code", "minimum_schema_version"]
    assert body["code"] == "upgrade_required"
    assert body["minimum_schema_version"] == minimum
    assert f"client schema version {minimum} or later" in body["detail"]


def multi_pull(api: Any, version: str | None, **params: Any) -> Any:
    return api.get(CHANGES, params, headers=schema(version))


@pytest.mark.parametrize(
    ("version", "status"), [(None, 200), ("0", 426), ("1", 426), ("2", 200), ("17", 200)]
)
def test_push_below_at_and_above_the_minimum(client, minimum, version, status):
    response = push(client, [{"mobile_id": new_id(), "title": "t"}], headers=schema(version))
    assert response.status_code == status, response.content
    if status == 426:
        assert_upgrade_required(response)
    assert Task.objects.count() == (1 if status == 200 else 0)


@pytest.mark.parametrize(("version", "status"), [(None, 200), ("1", 426), ("2", 200), ("3", 200)])
def test_pull_below_at_and_above_the_minimum(client, minimum, version, status):
    response = client.get(PULL_URL.format("tasks"), headers=schema(version))
    assert response.status_code == status, response.content
    if status == 426:
        assert_upgrade_required(response)


@pytest.mark.parametrize(("version", "status"), [(None, 200), ("1", 426), ("2", 200)])
def test_multi_push_is_held_to_the_minimum_of_its_domains(client, minimum, version, status):
    task, step = new_id(), new_id()
    parts = {
        "checkitems": [{"mobile_id": step, "task": task, "label": "Close the valve"}],
        "tasks": [{"mobile_id": task, "title": "Service the chiller"}],
    }
    response = multi_push(client, parts, headers=schema(version))
    assert response.status_code == status, response.content
    if status == 426:
        assert_upgrade_required(response)
    applied = 1 if status == 200 else 0
    assert (Task.objects.count(), Checkitem.objects.count()) == (applied, applied)


@pytest.mark.parametrize(("version", "status"), [(None, 200), ("1", 426), ("2", 200)])
def test_multi_pull_is_held_to_the_minimum_of_its_domains(client, minimum, version, status):
    response = multi_pull(client, version, domains="tasks,checkitems")
    assert response.status_code == status, response.content
    if status == 426:
        assert_upgrade_required(response)


def test_the_multi_endpoints_ignore_the_minimum_of_domains_not_involved(client, minimum):
    label = {"mobile_id": new_id(), "name": "urgent"}
    assert multi_push(client, {"labels": [label]}, headers=schema("1")).status_code == 200
    assert multi_pull(client, "1", domains="labels,checkitems").status_code == 200


def test_a_multi_pull_of_every_domain_is_held_to_every_minimum(client, minimum):
    assert multi_pull(client, None).status_code == 200
    assert_upgrade_required(multi_pull(client, "1"))


def test_the_highest_minimum_of_the_domains_involved_is_named(client, domain_options):
    with (
        domain_options(min_client_schema_version=2),
        domain_options("checkitems", min_client_schema_version=3),
    ):
        assert_upgrade_required(multi_pull(client, "2", domains="tasks,checkitems"), 3)
        assert multi_pull(client, "2", domains="tasks").status_code == 200
        assert multi_pull(client, "3", domains="tasks,checkitems").status_code == 200


def test_a_minimum_declared_in_a_dict(client):
    declared = [{"name": "notes", "model": "testapp.Note", "min_client_schema_version": 4}]
    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "DOMAINS": declared}):
        assert_upgrade_required(client.get(PULL_URL.format("notes"), headers=schema("3")), 4)
        assert client.get(PULL_URL.format("notes"), headers=schema("4")).status_code == 200


def test_head_is_refused_like_get_and_options_is_not(client, minimum):
    url = PULL_URL.format("tasks")
    assert client.head(url, headers=schema("1")).status_code == 426
    assert client.head(url, headers=schema("2")).status_code == 200
    assert client.options(url, headers=schema("1")).status_code == 200
    assert client.options(PUSH_URL.format("tasks"), headers=schema("1")).status_code == 200


@pytest.mark.parametrize("version", ["abc", "-1", "1.5", "2a", "", "0x2", "²", "1" * 5000])
@pytest.mark.parametrize("endpoint", ["push", "pull", "multi push", "multi pull"])
def test_a_malformed_version_is_a_400_naming_the_header(client, minimum, endpoint, version):
    headers = schema(version)
    entries = [{"mobile_id": new_id(), "title": "t"}]
    response = {
        "push": lambda: push(client, entries, headers=headers),
        "pull": lambda: client.get(PULL_URL.format("tasks"), headers=headers),
        "multi push": lambda: multi_push(client, {"tasks": entries}, headers=headers),
        "multi pull": lambda: multi_pull(client, version, domains="tasks"),
    }[endpoint]()
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_schema_version"
    assert list(body["errors"]) == [HEADER]
    assert HEADER in body["detail"] and "whole number" in body["detail"]
    assert Task.objects.count() == 0


def test_a_malformed_version_is_refused_even_without_a_minimum(client):
    assert pull(client, "notes").status_code == 200
    response = client.get(PULL_URL.format("notes"), headers=schema("latest"))
    assert response.status_code == 400 and response.json()["code"] == "invalid_schema_version"
    assert client.get(PULL_URL.format("notes"), headers=schema(" 7 ")).status_code == 200


def test_nothing_is_applied_or_logged_on_426(client, minimum):
    existing = new_id()
    assert push(client, [{"mobile_id": existing, "title": "before"}]).status_code == 200
    batches = SyncBatch.objects.count()
    refused = push(
        client,
        [
            {"mobile_id": new_id(), "title": "new"},
            {"mobile_id": existing, "version": 1, "title": "edited"},
            {"mobile_id": existing, "version": 1, "deleted": True},
        ],
        headers=schema("1"),
    )
    assert_upgrade_required(refused)
    assert Task.objects.count() == 1
    task = Task.objects.get()
    assert (task.title, task.version, task.deleted) == ("before", 1, False)
    assert SyncBatch.objects.count() == batches


@pytest.mark.parametrize("url", [PUSH_URL.format("tasks"), SYNC])
def test_a_426_is_not_stored_for_an_idempotent_replay(client, minimum, url):
    entries = [{"mobile_id": new_id(), "title": "t"}]
    body: dict[str, Any] = {"client_id": "device-1", "entries": entries}
    if url == SYNC:
        body = {"client_id": "device-1", "domains": {"tasks": {"entries": entries}}}
    key = {"Idempotency-Key": "batch-1"}

    def send(version: str) -> Any:
        return client.post(url, body, format="json", headers={**key, **schema(version)})

    for _ in range(2):  # a retry of the old app is refused again, never replayed
        refused = send("1")
        assert_upgrade_required(refused)
        assert "Idempotent-Replayed" not in refused
    assert IdempotencyRecord.objects.count() == 0
    assert Task.objects.count() == 0
    updated = send("2")  # the updated app retries the batch with the same key
    assert updated.status_code == 200 and "Idempotent-Replayed" not in updated
    assert Task.objects.count() == 1
    replayed = send("2")
    assert replayed.status_code == 200 and replayed["Idempotent-Replayed"] == "true"
    assert replayed.content == updated.content
    assert Task.objects.count() == 1


def test_check_client_schema_takes_numbers_and_names_its_source():
    tasks = SyncDomain(name="tasks", model="testapp.Task", min_client_schema_version=2)
    notes = SyncDomain(name="notes", model="testapp.Note", min_client_schema_version=5)
    assert minimum_schema_version([tasks, notes]) == 5
    assert minimum_schema_version([SyncDomain(name="x", model="testapp.Note")]) is None
    check_client_schema(None, [notes])
    check_client_schema(5, [tasks, notes])
    check_client_schema("1", [])
    with pytest.raises(UpgradeRequired) as refused:
        check_client_schema(4, [tasks, notes], source="schema_version")
    assert refused.value.minimum_schema_version == 5 and refused.value.status_code == 426
    for bad in (-1, True, "1e3", "null"):
        with pytest.raises(ValidationError) as invalid:
            check_client_schema(bad, [tasks], source="schema_version")
        assert list(invalid.value.detail) == ["schema_version"]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (None, True),
        (1, True),
        (12, True),
        (0, False),
        (-2, False),
        ("2", False),
        (2.0, False),
        (True, False),
    ],
)
def test_the_minimum_must_be_a_positive_whole_number(value, valid):
    domain = SyncDomain(
        name="tasks",
        model="testapp.Task",
        tenant_fields=["org"],
        scope="tests.testapp.scopes.org_scope",
        min_client_schema_version=value,
    )
    with override_settings(MOBILE_SYNC={"DOMAINS": [domain]}):
        errors = check_domains()
    if valid:
        assert errors == []
        return
    [error] = errors
    assert error.id == "django_mobile_sync.E019"
    assert "'tasks'" in error.msg and "min_client_schema_version" in error.msg
    assert repr(value) in error.msg
    assert error.hint and "domains.md#client-schema-versions" in error.hint


def test_the_schema_documents_the_header_and_the_426(minimum, settings):
    require_module("drf_spectacular")
    from drf_spectacular.generators import SchemaGenerator

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    operations = {
        "tasks push": paths["/api/sync/tasks/sync/"]["post"],
        "tasks pull": paths["/api/sync/tasks/changes/"]["get"],
        "notes pull": paths["/api/sync/notes/changes/"]["get"],
        "multi push": paths["/api/sync/sync/"]["post"],
        "multi pull": paths["/api/sync/changes/"]["get"],
    }
    for name, operation in operations.items():
        [header] = [p for p in operation["parameters"] if p["name"] == HEADER]
        assert header["in"] == "header" and header["schema"] == {"type": "integer", "minimum": 0}
        refused = operation["responses"].get("426")
        if name == "notes pull":
            assert refused is None  # no minimum, never a 426
            continue
        assert refused["content"]["application/json"]["schema"]["$ref"].endswith(
            "/UpgradeRequired"
        ), name
