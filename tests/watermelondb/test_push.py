"""A WatermelonDB push (``POST {prefix}watermelon/``), rule by rule: the changes object applied
in one transaction, refused whole (``409``) when a record changed after the pull, records
refused one by one reported as rejected ids, idempotency."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tests.helpers.api import new_id, push
from tests.helpers.watermelon import (
    URL,
    change_set,
    pull,
    push_changes,
    watermelon_settings,
)
from tests.testapp.models import Checkitem, Task

pytestmark = pytest.mark.usefixtures("uuid_tables")


def test_a_push_applies_creates_updates_and_deletes_of_several_tables(client):
    task, old, item = new_id(), new_id(), new_id()
    push(client, [{"mobile_id": old, "title": "old"}])
    timestamp = pull(client)["timestamp"]
    changes = {
        "checkitems": change_set(
            created=[{"id": item, "task_id": task, "label": "l", "done": False, "after_id": ""}]
        ),
        "tasks": change_set(
            created=[{"id": task, "title": "new", "_status": "created", "_changed": "", "x": 1}],
            deleted=[old, new_id()],  # an id the server never had is ignored
        ),
    }
    response = push_changes(client, timestamp, changes)
    assert response.status_code == 200, response.content
    assert response.json() == {"experimentalRejectedIds": {}, "rejected": []}
    assert Checkitem.objects.get(mobile_id=item).task == Task.objects.get(mobile_id=task)
    assert Task.all_objects.get(mobile_id=old).deleted


def test_the_documented_body_the_changes_object_itself_is_applied(client):
    """WatermelonDB's docs: ``body: JSON.stringify(changes)``, sent by fetch as text/plain."""
    task, gone = new_id(), new_id()
    push(client, [{"mobile_id": gone, "title": "gone"}])
    timestamp = pull(client)["timestamp"]
    changes = {
        "tasks": change_set(created=[{"id": task, "title": "documented"}], deleted=[gone]),
        "checkitems": change_set(),
        "local_drafts": change_set(),  # a table the server does not sync, empty
    }
    response = client.post(
        f"{URL}?last_pulled_at={timestamp}",
        json.dumps(changes),
        content_type="text/plain;charset=UTF-8",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"experimentalRejectedIds": {}, "rejected": []}
    assert Task.objects.get(mobile_id=task).title == "documented"
    assert Task.all_objects.get(mobile_id=gone).deleted


def test_the_wrapped_body_is_still_accepted(client):
    task = new_id()
    timestamp = pull(client)["timestamp"]
    changes = {"tasks": change_set(created=[{"id": task, "title": "wrapped"}])}
    response = push_changes(client, timestamp, changes, wrapped=True)
    assert response.status_code == 200, response.content
    assert Task.objects.get(mobile_id=task).title == "wrapped"


def test_a_table_named_changes_is_a_table_not_the_wrapper(client):
    task = new_id()
    with override_settings(
        MOBILE_SYNC={**watermelon_settings(), "WATERMELON": {"changes": "tasks"}}
    ):
        timestamp = pull(client)["timestamp"]
        changes = {"changes": change_set(created=[{"id": task, "title": "in changes"}])}
        response = push_changes(client, timestamp, changes)
        assert response.status_code == 200, response.content
        assert Task.objects.get(mobile_id=task).title == "in changes"
        # The wrapped form cannot be told from it: {"changes": {"changes": ...}} is refused.
        refused = push_changes(client, timestamp, changes, wrapped=True)
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_envelope"


def test_empty_change_sets_of_tables_the_server_does_not_sync_are_ignored(client):
    timestamp = pull(client)["timestamp"]
    task = new_id()
    changes = {"drafts": change_set(), "tasks": change_set(created=[{"id": task, "title": "x"}])}
    assert push_changes(client, timestamp, changes).status_code == 200
    assert Task.objects.filter(mobile_id=task).exists()


def test_a_created_record_that_exists_is_updated_and_an_updated_one_that_does_not_is_created(
    client,
):
    known, unknown = new_id(), new_id()
    push(client, [{"mobile_id": known, "title": "before"}])
    timestamp = pull(client)["timestamp"]
    changes = {
        "tasks": change_set(
            created=[{"id": known, "title": "after"}],  # a retry whose answer was lost
            updated=[{"id": unknown, "title": "new"}],
        )
    }
    assert push_changes(client, timestamp, changes).status_code == 200
    assert Task.objects.get(mobile_id=known).title == "after"
    assert Task.objects.get(mobile_id=unknown).title == "new"


def test_a_push_with_a_record_changed_since_the_pull_is_refused_whole(client):
    edited, untouched, created = new_id(), new_id(), new_id()
    push(client, [{"mobile_id": edited, "title": "a"}, {"mobile_id": untouched, "title": "b"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": edited, "version": 1, "title": "server"}])

    changes = {
        "tasks": change_set(
            created=[{"id": created, "title": "new"}],
            updated=[{"id": edited, "title": "device"}, {"id": untouched, "title": "device"}],
        )
    }
    response = push_changes(client, timestamp, changes)
    assert response.status_code == 409
    assert response.json()["code"] == "changed_since_pull"
    assert response.json()["records"] == {"tasks": [edited]}
    assert Task.objects.get(mobile_id=edited).title == "server"  # nothing applied
    assert Task.objects.get(mobile_id=untouched).title == "b"
    assert not Task.objects.filter(mobile_id=created).exists()

    # The device pulls, merges, and pushes again: accepted.
    again = pull(client, timestamp)
    response = push_changes(client, again["timestamp"], changes)
    assert response.status_code == 200
    assert Task.objects.get(mobile_id=edited).title == "device"


def test_the_devices_own_changes_after_the_pull_do_not_refuse_its_push(client):
    task = new_id()
    timestamp = pull(client)["timestamp"]
    elsewhere = pull(client, device="another-phone")["timestamp"]
    created = {"tasks": change_set(created=[{"id": task, "title": "mine"}])}
    assert push_changes(client, timestamp, created).status_code == 200
    # The next sync's pull could not move past the push (a long transaction elsewhere
    # holding the horizon): the device pushes an edit of its own record with that timestamp.
    edited = {"tasks": change_set(updated=[{"id": task, "title": "mine, edited"}])}
    assert push_changes(client, elsewhere, edited, device="another-phone").status_code == 409
    assert push_changes(client, timestamp, edited).status_code == 200
    assert Task.objects.get(mobile_id=task).title == "mine, edited"


def test_a_deletion_of_a_record_changed_since_the_pull_is_refused_too(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "a"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": task, "version": 1, "title": "b"}])
    response = push_changes(client, timestamp, {"tasks": change_set(deleted=[task])})
    assert response.status_code == 409
    assert not Task.all_objects.get(mobile_id=task).deleted


def test_records_refused_one_by_one_are_rejected_ids_and_the_rest_is_applied(client):
    good, bad, orphan = new_id(), new_id(), new_id()
    timestamp = pull(client)["timestamp"]
    changes = {
        "tasks": change_set(
            created=[{"id": good, "title": "ok"}, {"id": bad, "title": "x", "status": "nope"}]
        ),
        "checkitems": change_set(created=[{"id": orphan, "task_id": new_id(), "label": "?"}]),
    }
    response = push_changes(client, timestamp, changes)
    assert response.status_code == 200
    body = response.json()
    assert body["experimentalRejectedIds"] == {"tasks": [bad], "checkitems": [orphan]}
    assert {(r["table"], r["id"]) for r in body["rejected"]} == {
        ("tasks", bad),
        ("checkitems", orphan),
    }
    assert Task.objects.filter(mobile_id=good).exists()
    assert not Task.objects.filter(mobile_id=bad).exists()


def test_a_push_cannot_touch_another_tenants_record(client, client_for, other_user):
    theirs = new_id()
    push(client_for(other_user), [{"mobile_id": theirs, "title": "theirs"}])
    timestamp = pull(client)["timestamp"]
    changes = {"tasks": change_set(updated=[{"id": theirs, "title": "hijacked"}])}
    assert push_changes(client, timestamp, changes).status_code == 200
    assert Task.objects.get(mobile_id=theirs, org__name="Globex").title == "theirs"
    assert Task.objects.get(mobile_id=theirs, org__name="Acme").title == "hijacked"


def test_a_push_is_idempotent_with_an_idempotency_key(client):
    task = new_id()
    timestamp = pull(client)["timestamp"]
    body = {"changes": {"tasks": change_set(created=[{"id": task, "title": "once"}])}}
    headers = {"Idempotency-Key": "wm-push-1"}
    url = f"{URL}?last_pulled_at={timestamp}"
    first = client.post(url, body, format="json", headers=headers)
    Task.objects.filter(mobile_id=task).update(title="changed on the server")
    replay = client.post(url, body, format="json", headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert Task.objects.get(mobile_id=task).title == "changed on the server"


def test_a_refused_push_frees_its_idempotency_key_for_the_retry(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "a"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": task, "version": 1, "title": "server"}])
    body = {"changes": {"tasks": change_set(updated=[{"id": task, "title": "device"}])}}
    headers = {"Idempotency-Key": "wm-push-2"}
    refused = client.post(
        f"{URL}?last_pulled_at={timestamp}", body, format="json", headers=headers
    )
    assert refused.status_code == 409
    again = pull(client, timestamp)["timestamp"]
    retried = client.post(f"{URL}?last_pulled_at={again}", body, format="json", headers=headers)
    assert retried.status_code == 200
    assert Task.objects.get(mobile_id=task).title == "device"


def test_a_record_both_created_and_deleted_is_rejected_not_lost(client):
    task = new_id()
    timestamp = pull(client)["timestamp"]
    changes = {"tasks": change_set(created=[{"id": task, "title": "x"}], deleted=[task])}
    body = push_changes(client, timestamp, changes).json()
    assert body["experimentalRejectedIds"] == {"tasks": [task]}
    assert Task.objects.filter(mobile_id=task).exists()  # the create was applied


def test_deleted_ids_no_record_can_have_are_ignored(client):
    timestamp = pull(client)["timestamp"]
    changes = {"tasks": change_set(deleted=["not a uuid", "x" * 300])}
    assert push_changes(client, timestamp, changes).json()["experimentalRejectedIds"] == {}
