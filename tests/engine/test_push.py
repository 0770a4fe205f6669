"""Push protocol (docs/protocol.md#push): statuses, ordering, deletes, limits, server-owned
fields."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_mobile_sync.models import SyncBatch
from tests.helpers.api import new_id, pull_all, push
from tests.testapp.models import Task


def created(client, **fields):
    mid = new_id()
    r = push(client, [{"mobile_id": mid, "title": "Task", **fields}])
    assert r.json()["synced_items"][0]["status"] == "created", r.json()
    return mid


def test_create_returns_created_with_version_1(client, org):
    mid = new_id()
    r = push(client, [{"mobile_id": mid, "title": "Fix pump", "priority": 3}])
    assert r.status_code == 200
    body = r.json()
    assert body["synced_items"] == [{"mobile_id": mid, "status": "created", "server_version": 1}]
    assert body["conflicts"] == [] and body["errors"] == []
    assert set(body) == {"synced_items", "conflicts", "errors", "timestamp", "cursor"}
    assert body["timestamp"].endswith("Z")
    task = Task.objects.get(mobile_id=mid)
    assert (task.title, task.priority, task.version, task.org) == ("Fix pump", 3, 1, org)


def test_update_bumps_version(client):
    mid = created(client)
    r = push(client, [{"mobile_id": mid, "version": 1, "title": "Renamed"}])
    assert r.json()["synced_items"] == [
        {"mobile_id": mid, "status": "updated", "server_version": 2}
    ]
    task = Task.objects.get(mobile_id=mid)
    assert (task.title, task.version) == ("Renamed", 2)


def test_retry_of_applied_entry_is_unchanged_not_conflict(client):
    mid = created(client)
    entry = {"mobile_id": mid, "version": 1, "title": "Renamed"}
    push(client, [entry])
    r = push(client, [entry])  # response lost, device retries at its old base version
    assert r.json()["synced_items"] == [
        {"mobile_id": mid, "status": "unchanged", "server_version": 2}
    ]
    assert r.json()["conflicts"] == []
    assert Task.objects.get(mobile_id=mid).version == 2


def test_retried_create_is_unchanged(client):
    entry = {"mobile_id": new_id(), "title": "Once"}
    push(client, [entry])
    r = push(client, [entry])
    assert r.json()["synced_items"][0]["status"] == "unchanged"
    assert Task.objects.filter(mobile_id=entry["mobile_id"]).count() == 1


def test_stale_update_is_conflict_with_server_data(client):
    mid = created(client)
    push(client, [{"mobile_id": mid, "version": 1, "title": "Server edit"}])
    r = push(client, [{"mobile_id": mid, "version": 1, "title": "Device edit"}])
    body = r.json()
    assert body["synced_items"] == []
    [conflict] = body["conflicts"]
    assert conflict["status"] == "conflict"
    assert (conflict["server_version"], conflict["client_version"]) == (2, 1)
    assert conflict["server_data"]["title"] == "Server edit"
    assert conflict["server_data"]["version"] == 2 and conflict["error_message"]
    assert Task.objects.get(mobile_id=mid).title == "Server edit"


def test_version_ahead_of_server_is_error(client):
    mid = created(client)
    r = push(client, [{"mobile_id": mid, "version": 7, "title": "Time traveller"}])
    [error] = r.json()["errors"]
    assert error["mobile_id"] == mid and "version" in error["field_errors"]


def test_delete_makes_tombstone_and_repeats_answer_deleted(client):
    mid = created(client)
    r = push(client, [{"mobile_id": mid, "version": 1, "deleted": True}])
    assert r.json()["synced_items"] == [
        {"mobile_id": mid, "status": "deleted", "server_version": 2}
    ]
    task = Task.all_objects.get(mobile_id=mid)
    assert task.deleted and task.deleted_at and task.version == 2
    assert not Task.objects.filter(mobile_id=mid).exists()
    again = push(client, [{"mobile_id": mid, "version": 2, "deleted": True}])
    assert again.json()["synced_items"][0]["status"] == "deleted"
    unknown = new_id()
    r = push(client, [{"mobile_id": unknown, "deleted": True}])
    assert r.json()["synced_items"] == [
        {"mobile_id": unknown, "status": "deleted", "server_version": 0}
    ]
    assert not Task.all_objects.filter(mobile_id=unknown).exists()


def test_stale_delete_is_conflict(client):
    mid = created(client)
    push(client, [{"mobile_id": mid, "version": 1, "title": "Server edit"}])
    r = push(client, [{"mobile_id": mid, "version": 1, "deleted": True}])
    assert r.json()["conflicts"][0]["mobile_id"] == mid
    assert not Task.all_objects.get(mobile_id=mid).deleted


def test_every_entry_answered_once_in_input_order(client):
    ok1, bad, ok2, dup = new_id(), new_id(), new_id(), new_id()
    entries = [
        {"mobile_id": ok1, "title": "One"},
        {"mobile_id": bad, "title": ""},  # invalid: required
        {"mobile_id": dup, "title": "First"},
        "not an object",
        {"mobile_id": "not-a-uuid", "title": "x"},
        {"title": "no id"},
        {"mobile_id": ok2, "title": "Two"},
        {"mobile_id": dup, "title": "Second"},
    ]
    body = push(client, entries).json()
    assert [i["mobile_id"] for i in body["synced_items"]] == [ok1, dup, ok2]
    assert [e["mobile_id"] for e in body["errors"]] == [bad, None, "not-a-uuid", None, dup]
    total = len(body["synced_items"]) + len(body["conflicts"]) + len(body["errors"])
    assert total == len(entries)
    assert Task.objects.get(mobile_id=dup).title == "First"
    assert "title" in body["errors"][0]["field_errors"]
    assert all(e["status"] == "error" and e["error_message"] for e in body["errors"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "1"),
        ("version", -1),
        ("version", 1.5),
        ("version", True),
        ("deleted", "yes"),
        ("mobile_id", 123),
        ("mobile_id", None),
    ],
)
def test_malformed_entry_envelope_is_item_error(client, field, value):
    entry = {"mobile_id": new_id(), "title": "x", field: value}
    body = push(client, [entry]).json()
    assert len(body["errors"]) == 1 and body["synced_items"] == []
    assert not Task.objects.exists()


def test_invalid_item_does_not_block_valid_ones(client):
    good = new_id()
    body = push(
        client,
        [
            {"mobile_id": new_id(), "title": "x", "priority": 99},
            {"mobile_id": good, "title": "fine"},
        ],
    ).json()
    assert body["errors"][0]["field_errors"]["priority"]
    assert body["synced_items"][0]["mobile_id"] == good
    assert Task.objects.count() == 1


def test_server_owned_fields_are_never_taken_from_client(client, org, other_org):
    mid = new_id()
    push(
        client,
        [
            {
                "mobile_id": mid,
                "title": "x",
                "approved": True,
                "version": 0,
                "history": ["forged"],
                "org": other_org.pk,
                "change_seq": 10**12,
                "created_at": "2000-01-01T00:00:00Z",
                "updated_at": "2000-01-01T00:00:00Z",
                "field_versions": {"title": 99},
            }
        ],
    )
    task = Task.objects.get(mobile_id=mid)
    assert task.approved is False and task.org == org
    assert task.version == 1 and task.change_seq < 10**12
    assert task.created_at.year > 2000 and task.field_versions == {}
    assert task.history[0]["changes"] == {"title": "x"}


def test_history_field_gets_entry_per_accepted_change(client):
    mid = created(client)
    push(client, [{"mobile_id": mid, "version": 1, "status": "doing"}])
    task = Task.objects.get(mobile_id=mid)
    assert [h["version"] for h in task.history] == [1, 2]
    assert task.history[1]["changes"] == {"status": "doing"}
    assert task.history[1]["device"] == "device-1"


def test_status_transitions(client):
    mid = created(client)
    refused = push(client, [{"mobile_id": mid, "version": 1, "status": "done"}]).json()
    [error] = refused["errors"]
    assert "todo" in error["error_message"] and "done" in error["error_message"]
    assert error["field_errors"]["status"]
    allowed = push(client, [{"mobile_id": mid, "version": 1, "status": "doing"}]).json()
    assert allowed["synced_items"][0]["status"] == "updated"
    same = push(client, [{"mobile_id": mid, "version": 2, "status": "doing", "notes": "n"}])
    assert same.json()["synced_items"][0]["status"] == "updated"  # same status: no transition


def test_create_with_unknown_state_is_error(client):
    body = push(client, [{"mobile_id": new_id(), "title": "x", "status": "archived"}]).json()
    assert body["errors"][0]["field_errors"]["status"]


def test_pushing_onto_tombstone_at_current_version_restores_it(client):
    mid = created(client)
    push(client, [{"mobile_id": mid, "version": 1, "deleted": True}])
    r = push(client, [{"mobile_id": mid, "version": 2, "title": "Back"}])
    assert r.json()["synced_items"][0]["status"] == "updated"
    task = Task.objects.get(mobile_id=mid)
    assert not task.deleted and task.deleted_at is None and task.version == 3


def test_empty_batch_is_valid_and_logged(client):
    r = push(client, [])
    assert r.status_code == 200
    assert r.json()["synced_items"] == [] and r.json()["errors"] == []
    assert SyncBatch.objects.get().entries == 0


def test_batch_log_counts(client, user):
    mid = created(client)
    push(
        client,
        [{"mobile_id": mid, "version": 1, "title": "New"}, {"mobile_id": new_id(), "title": ""}],
        headers={"X-Device-Id": "tab-9"},
    )
    batch = SyncBatch.objects.order_by("-pk").first()
    assert (batch.entries, batch.updated, batch.errors) == (2, 1, 1)
    assert batch.device_id == "tab-9" and batch.user == user and batch.domain == "tasks"


def test_batch_size_limit(client):
    entries = [{"mobile_id": new_id(), "title": "x"} for _ in range(6)]
    with override_settings(MOBILE_SYNC={**_settings(), "MAX_BATCH_SIZE": 5}):
        r = push(client, entries)
    assert r.status_code == 400
    assert "5" in r.json()["detail"] and r.json()["code"] == "batch_too_large"
    assert not Task.objects.exists()


def test_per_domain_batch_limit(client, domain_options):
    with domain_options(max_batch_size=2):
        r = push(client, [{"mobile_id": new_id(), "title": "x"} for _ in range(3)])
    assert r.status_code == 400 and "2" in r.json()["detail"]


def _settings():
    from django.conf import settings

    return settings.MOBILE_SYNC


def test_one_structured_log_line_per_batch_without_payloads(client, caplog):
    with caplog.at_level("INFO", logger="django_mobile_sync"):
        push(
            client,
            [{"mobile_id": new_id(), "title": "Top secret payload"}],
            headers={"Authorization": "Token should-not-leak"},
        )
    [record] = [r for r in caplog.records if r.msg.startswith("Sync batch processed")]
    fields = record.sync_batch
    assert (fields["domain"], fields["entries"], fields["created"], fields["device"]) == (
        "tasks",
        1,
        1,
        "device-1",
    )
    assert "domain=tasks" in record.getMessage() and "created=1" in record.getMessage()
    assert "Top secret" not in str(record.__dict__) and "should-not-leak" not in str(
        record.__dict__
    )


def test_history_writes_timestamps_as_the_wire_does(client):
    mid = created(client)
    push(client, [{"mobile_id": mid, "version": 1, "due_at": "2025-10-01T12:00:00+02:00"}])
    entry = Task.objects.get(mobile_id=mid).history[-1]
    assert entry["changes"] == {"due_at": "2025-10-01T10:00:00Z"}
    assert entry["at"].endswith("Z")


def test_answers_echo_the_mobile_id_as_sent_and_pull_returns_it_canonical(client):
    upper, dupe, invalid = new_id().upper(), new_id().upper(), new_id().upper()
    r = push(client, [{"mobile_id": upper, "title": "iOS"}])
    assert r.json()["synced_items"][0]["mobile_id"] == upper
    Task.objects.filter(mobile_id=upper).update(title="server")
    body = push(
        client,
        [
            {"mobile_id": upper, "version": 1, "title": "stale"},
            {"mobile_id": dupe, "title": "x"},
            {"mobile_id": dupe.lower(), "title": "y"},  # the same record: a duplicate
            {"mobile_id": invalid, "title": ""},
        ],
    ).json()
    assert body["conflicts"][0]["mobile_id"] == upper
    assert body["conflicts"][0]["server_data"]["mobile_id"] == upper.lower()
    assert body["synced_items"][0]["mobile_id"] == dupe
    assert [e["mobile_id"] for e in body["errors"]] == [dupe.lower(), invalid]
    items, _ = pull_all(client)
    assert {i["mobile_id"] for i in items} == {upper.lower(), dupe.lower()}
