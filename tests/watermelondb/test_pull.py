"""A WatermelonDB pull (``GET {prefix}watermelon/``), rule by rule: every change after
``last_pulled_at`` in one streamed answer, ``created``/``updated``/``deleted`` per table, a
replacement sync when the server cannot tell what changed, migration syncs.

The tests map the WatermelonDB tables ``tasks`` and ``checkitems`` to the domains of the same
names (``checkitems.task`` is the column ``task_id``); their models keep UUID ids, which
WatermelonDB apps may use (``tests/watermelondb/test_ids.py`` has WatermelonDB's own ids).
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from django_mobile_sync.domains import get_domain
from django_mobile_sync.ops.purge import purge_tombstones
from django_mobile_sync.watermelondb.tables import Table, to_entry, to_raw
from tests.helpers.api import new_id, push
from tests.helpers.watermelon import (
    change_set,
    ids,
    pull,
    pull_response,
    push_changes,
    response_json,
    watermelon_settings,
)
from tests.testapp.models import Member, Task

pytestmark = pytest.mark.usefixtures("uuid_tables")


def test_a_first_sync_is_every_live_record_as_created_in_one_unpaged_response(client, org):
    live = [new_id() for _ in range(1200)]  # more than MAX_PAGE_SIZE: no paging
    Task.objects.bulk_create(
        [Task(org=org, mobile_id=m, title=f"t{i}") for i, m in enumerate(live)]
    )
    gone = new_id()
    push(client, [{"mobile_id": gone, "title": "gone"}])
    push(client, [{"mobile_id": gone, "version": 1, "deleted": True}])

    response = pull_response(client)
    assert response.streaming and response["Content-Type"] == "application/json"
    body = response_json(response)

    assert set(body) == {"changes", "timestamp"}
    tasks = body["changes"]["tasks"]
    assert ids(tasks["created"]) == sorted(live)
    assert tasks["updated"] == [] and tasks["deleted"] == []  # turbo login: no deleted ids
    assert body["changes"]["checkitems"] == change_set()
    assert type(body["timestamp"]) is int and body["timestamp"] > 0


def test_raw_records_are_columns_by_name_without_status_keys(client):
    task, item = new_id(), new_id()
    push(client, [{"mobile_id": task, "title": "Pump", "priority": 3}])
    push(client, [{"mobile_id": item, "task": task, "label": "valve"}], "checkitems")
    body = pull(client)
    [record] = body["changes"]["tasks"]["created"]
    assert record["id"] == task and record["title"] == "Pump" and record["priority"] == 3
    assert not {"_status", "_changed", "mobile_id", "version", "deleted"} & set(record)
    assert isinstance(record["history"], str)  # a JSON field travels as JSON text (@json)
    assert json.loads(record["history"])[0]["changes"] == {"title": "Pump", "priority": 3}
    [step] = body["changes"]["checkitems"]["created"]
    assert step["task_id"] == task and step["after_id"] is None and "task" not in step


def test_the_timestamp_is_a_change_position_and_an_incremental_pull_starts_there(client):
    first, second = new_id(), new_id()
    push(client, [{"mobile_id": first, "title": "one"}])
    timestamp = pull(client)["timestamp"]
    assert pull(client, timestamp)["changes"]["tasks"] == change_set()
    assert pull(client, timestamp)["timestamp"] == timestamp

    push(client, [{"mobile_id": second, "title": "two"}], client_id="other-phone")
    push(client, [{"mobile_id": first, "version": 1, "title": "one!"}], client_id="other-phone")
    body = pull(client, timestamp)
    tasks = body["changes"]["tasks"]
    assert ids(tasks["created"]) == [second]  # created after the last pull, elsewhere
    assert ids(tasks["updated"]) == [first]
    assert body["timestamp"] > timestamp


def test_deleted_records_come_as_ids_only(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": task, "version": 1, "deleted": True}])
    tasks = pull(client, timestamp)["changes"]["tasks"]
    assert tasks == change_set(deleted=[task])


def test_records_the_device_pushed_itself_come_back_as_updated(client):
    timestamp = pull(client)["timestamp"]
    elsewhere = pull(client, device="phone-2")["timestamp"]
    mine, theirs = new_id(), new_id()
    pushed = push_changes(
        client, timestamp, {"tasks": change_set(created=[{"id": mine, "title": "mine"}])}
    )
    assert pushed.status_code == 200, pushed.content
    push(client, [{"mobile_id": theirs, "title": "theirs"}], client_id="another-phone")

    tasks = pull(client, timestamp)["changes"]["tasks"]
    assert ids(tasks["updated"]) == [mine]
    assert ids(tasks["created"]) == [theirs]
    # Another device of the same user (its own timestamp) gets both as new records.
    other = pull(client, elsewhere, device="phone-2")["changes"]["tasks"]
    assert ids(other["created"]) == sorted([mine, theirs])


def test_send_created_as_updated_puts_every_record_in_updated(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    tasks = pull(client, send_created_as_updated="true")["changes"]["tasks"]
    assert tasks["created"] == [] and ids(tasks["updated"]) == [task]


def test_tenants_never_see_each_other(client, client_for, other_user):
    ours, theirs = new_id(), new_id()
    push(client, [{"mobile_id": ours, "title": "ours"}])
    push(client_for(other_user), [{"mobile_id": theirs, "title": "theirs"}])
    assert ids(pull(client)["changes"]["tasks"]["created"]) == [ours]
    assert ids(pull(client_for(other_user))["changes"]["tasks"]["created"]) == [theirs]


def test_a_pull_costs_a_fixed_number_of_queries(client, org, django_assert_max_num_queries):
    Task.objects.bulk_create([Task(org=org, mobile_id=new_id(), title="t") for _ in range(1100)])
    timestamp = pull(client)["timestamp"]
    Task.objects.filter(org=org).update(title="changed")
    # clock, checkpoint, deleted ids (2 tables), own pushes, purge check, the next position
    # (2 tables), the new checkpoint (3 with the test's savepoint), then 3 chunks of tasks
    # and the empty querysets of the other lists; never one per record.
    with django_assert_max_num_queries(17):
        body = pull(client, timestamp)
    assert len(body["changes"]["tasks"]["updated"]) == 1100


def test_purged_tombstones_turn_an_old_timestamp_into_a_replacement_sync(client):
    kept, gone = new_id(), new_id()
    push(client, [{"mobile_id": kept, "title": "kept"}, {"mobile_id": gone, "title": "gone"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": gone, "version": 1, "deleted": True}])
    assert purge_tombstones(get_domain("tasks"), retention=timedelta(0)) == 1

    body = pull(client, timestamp)
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [kept]
    assert body["changes"]["tasks"]["deleted"] == []


def test_a_timestamp_the_server_never_gave_is_a_replacement_sync(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    timestamp = pull(client)["timestamp"]
    # e.g. the database was restored from a backup older than the device's last pull
    body = pull(client, timestamp + 1_000_000)
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [task]
    assert body["timestamp"] > timestamp + 1_000_000


def test_a_migration_sync_sends_new_tables_and_records_with_new_columns_set(client):
    task, plain, item = new_id(), new_id(), new_id()
    push(
        client,
        [{"mobile_id": task, "title": "x", "notes": "n"}, {"mobile_id": plain, "title": "y"}],
    )
    push(client, [{"mobile_id": item, "task": task, "label": "valve"}], "checkitems")
    timestamp = pull(client)["timestamp"]
    migration = {
        "from": 1,
        "tables": ["checkitems", "not_ours"],
        "columns": [{"table": "tasks", "columns": ["notes", "no_such_column"]}],
    }
    body = pull(client, timestamp, migration=json.dumps(migration), schema_version=2)
    assert ids(body["changes"]["checkitems"]["created"]) == [item]
    assert ids(body["changes"]["tasks"]["updated"]) == [task]  # notes set; plain has ""
    assert "not_ours" not in body["changes"]


def test_deleted_at_is_not_a_column(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    Task.all_objects.filter(mobile_id=task).update(deleted_at=timezone.now())
    [record] = pull(client)["changes"]["tasks"]["created"]
    assert "deleted_at" not in record and "updated_at" not in record


def test_a_sync_reset_turns_an_old_timestamp_into_a_replacement_sync(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    timestamp = pull(client)["timestamp"]
    call_command("sync_reset", stdout=io.StringIO())
    body = pull(client, timestamp)
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [task]
    refused = push_changes(
        client, timestamp, {"tasks": change_set(updated=[{"id": task, "title": "y"}])}
    )
    assert refused.status_code == 409  # the device pulls (a replacement), then pushes
    assert Task.objects.get(mobile_id=task).title == "x"


def test_a_user_moved_to_another_tenant_gets_a_replacement_sync(client, user, other_org):
    ours = new_id()
    push(client, [{"mobile_id": ours, "title": "ours"}])
    timestamp = pull(client)["timestamp"]
    theirs = Task.objects.create(org=other_org, mobile_id=new_id(), title="theirs")
    member = Member.objects.get(user=user)
    member.org = other_org
    member.save()
    client.force_authenticate(User.objects.get(pk=user.pk))  # a new request's user

    body = pull(client, timestamp)
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [str(theirs.mobile_id)]


def test_a_newly_mapped_table_gets_a_replacement_sync(client):
    item, task = new_id(), new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    push(client, [{"mobile_id": item, "task": task, "label": "l"}], "checkitems")
    with override_settings(
        MOBILE_SYNC={**watermelon_settings(), "WATERMELON": {"tasks": "tasks"}}
    ):
        timestamp = pull(client)["timestamp"]
    body = pull(client, timestamp)  # the server now maps checkitems too
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["checkitems"]["updated"]) == [item]


def test_json_fields_travel_as_json_text_whatever_they_hold():
    domain = get_domain("tasks")
    table = Table(
        "tasks",
        domain,
        columns={"history": "history"},
        readable={"history": "history"},
        json_fields=frozenset({"history"}),
    )
    for value in (5, "text", [1, {"a": None}], True, {"nested": ["x"]}):
        raw = to_raw(table, {"mobile_id": "a", "history": value})
        assert isinstance(raw["history"], str)
        assert to_entry(table, raw)["history"] == value
    assert to_raw(table, {"mobile_id": "a", "history": None})["history"] is None
    assert to_entry(table, {"id": "a", "history": ""})["history"] is None
