"""One round trip for several domains: ``POST sync/`` and ``GET changes/``
(docs/protocol.md#several-domains-in-one-request)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from django_mobile_sync.models import SyncBatch
from django_mobile_sync.service import SyncService
from tests.helpers.api import CHANGES, make_user, multi_pull_all, multi_push, new_id, push
from tests.testapp.models import Attachment, Checkitem, Task


def test_a_parent_and_children_in_two_domains_commit_together(client):
    task, step, other_step, file = new_id(), new_id(), new_id(), new_id()
    response = multi_push(
        client,
        {  # children first: the server orders the writes
            "checkitems": [
                {"mobile_id": other_step, "task": task, "label": "2", "after": step},
                {"mobile_id": step, "task": task, "label": "1"},
            ],
            "attachments": [{"mobile_id": file, "task": task, "name": "plan.pdf"}],
            "tasks": [{"mobile_id": task, "title": "Service the chiller"}],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"domains", "timestamp", "cursor"}
    assert list(body["domains"]) == ["checkitems", "attachments", "tasks"]
    for lists in body["domains"].values():
        assert set(lists) == {"synced_items", "conflicts", "errors"}
        assert lists["errors"] == [] and lists["conflicts"] == []
    assert [i["mobile_id"] for i in body["domains"]["checkitems"]["synced_items"]] == [
        other_step,
        step,
    ]
    assert Checkitem.objects.get(mobile_id=other_step).task == Task.objects.get(mobile_id=task)
    assert Attachment.objects.get(mobile_id=file).task.title == "Service the chiller"
    stamps = {
        *Task.objects.values_list("change_seq", flat=True),
        *Checkitem.objects.values_list("change_seq", flat=True),
    }
    assert len(stamps) == 1  # one transaction
    assert sorted(SyncBatch.objects.values_list("domain", flat=True)) == [
        "attachments",
        "checkitems",
        "tasks",
    ]


def test_a_rejected_parent_fails_its_children_in_other_domains(client):
    task, step = new_id(), new_id()
    body = multi_push(
        client,
        {
            "checkitems": [{"mobile_id": step, "task": task, "label": "1"}],
            "tasks": [{"mobile_id": task, "title": ""}],  # invalid: title is required
        },
    ).json()
    assert body["domains"]["tasks"]["errors"][0]["field_errors"]["title"]
    [error] = body["domains"]["checkitems"]["errors"]
    assert error["code"] == "unknown_reference"
    assert not Checkitem.all_objects.exists()


def test_deleting_the_protecting_child_in_the_same_request_frees_the_parent(client):
    task, file = new_id(), new_id()
    push(client, [{"mobile_id": task, "title": "T"}])
    push(client, [{"mobile_id": file, "task": task, "name": "a"}], "attachments")
    body = multi_push(
        client,
        {
            "tasks": [{"mobile_id": task, "version": 1, "deleted": True}],
            "attachments": [{"mobile_id": file, "version": 1, "deleted": True}],
        },
    ).json()
    assert body["domains"]["tasks"]["synced_items"][0]["status"] == "deleted"
    assert Task.all_objects.get(mobile_id=task).deleted


@pytest.mark.parametrize("name", ["nope", "notes"])
def test_an_unknown_or_not_permitted_domain_is_a_400_that_applies_nothing(
    client, domain_options, name
):
    task = new_id()
    with domain_options("notes", permission_classes=["tests.testapp.permissions.DenyAll"]):
        response = multi_push(client, {"tasks": [{"mobile_id": task, "title": "T"}], name: []})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_domains" and repr(name) in response.json()["detail"]
    assert not Task.all_objects.exists()


def test_the_entry_cap_counts_every_domain(client, settings):
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "MAX_BATCH_SIZE": 3}
    entries = {
        "tasks": [{"mobile_id": new_id(), "title": "T"} for _ in range(2)],
        "notes": [{"mobile_id": new_id(), "text": "N"} for _ in range(2)],
    }
    response = multi_push(client, entries)
    assert response.status_code == 400 and response.json()["code"] == "batch_too_large"
    assert not Task.all_objects.exists()


def test_the_idempotency_key_covers_the_whole_request(client):
    entries = {"tasks": [{"mobile_id": new_id(), "title": "T"}], "notes": []}
    first = multi_push(client, entries, headers={"Idempotency-Key": "multi-1"})
    again = multi_push(client, entries, headers={"Idempotency-Key": "multi-1"})
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    other = multi_push(client, {"notes": []}, headers={"Idempotency-Key": "multi-1"})
    assert other.status_code == 422
    single = push(client, [], headers={"Idempotency-Key": "multi-1"})  # another scope
    assert single.status_code == 200 and "Idempotent-Replayed" not in single


class CrashAfterWriting(SyncService):
    def after_save(self, created: Any, updated: Any) -> None:
        raise RuntimeError("the server dies after writing the checkitems")


def test_a_crash_midway_through_a_multi_domain_push_leaves_nothing(client, domain_options):
    task = new_id()
    with domain_options("checkitems", service="tests.api.test_multi.CrashAfterWriting"):
        response = multi_push(
            client,
            {
                "tasks": [{"mobile_id": task, "title": "T"}],
                "checkitems": [{"mobile_id": new_id(), "task": task, "label": "1"}],
            },
        )
    assert response.status_code == 500 and response.json()["code"] == "server_error"
    assert not Task.all_objects.exists() and not Checkitem.all_objects.exists()
    assert not SyncBatch.objects.exists()


def test_a_multi_domain_pull_pages_across_domains_parents_first(client):
    task, steps = new_id(), [new_id() for _ in range(3)]
    multi_push(
        client,
        {
            "checkitems": [{"mobile_id": s, "task": task, "label": s} for s in steps],
            "tasks": [{"mobile_id": task, "title": "T"}],
        },
    )
    pages, cursor = multi_pull_all(client, domains="checkitems,tasks", limit=2)
    assert all(set(p) == {"changes", "has_more", "next_cursor"} for p in pages)
    assert all(list(p["changes"]) == ["tasks", "checkitems"] for p in pages)  # parents first
    assert [len(p["changes"]["tasks"]) + len(p["changes"]["checkitems"]) for p in pages] == [
        2,
        2,
    ]
    assert pages[0]["changes"]["tasks"][0]["mobile_id"] == task
    served = [i["mobile_id"] for p in pages for i in p["changes"]["checkitems"]]
    assert sorted(served) == sorted(steps)
    assert all(i["task"] == task for p in pages for i in p["changes"]["checkitems"])
    # Later changes come after the cursor, and nothing else.
    push(client, [{"mobile_id": steps[0], "version": 1, "done": True}], "checkitems")
    later, _ = multi_pull_all(client, cursor, domains="tasks,checkitems")
    assert [i["mobile_id"] for p in later for i in p["changes"]["checkitems"]] == [steps[0]]


def test_a_multi_domain_pull_defaults_to_every_readable_domain(client, domain_options):
    push(client, [{"mobile_id": new_id(), "title": "T"}])
    with domain_options("notes", permission_classes=["tests.testapp.permissions.DenyAll"]):
        body = client.get(CHANGES).json()
    assert "notes" not in body["changes"]
    assert {"tasks", "routed-notes", "checkitems"} <= set(body["changes"])
    assert len(body["changes"]["tasks"]) == 1


def test_a_multi_domain_cursor_is_bound_to_its_domains_and_tenant(client, client_for):
    from tests.testapp.models import Org

    cursor = client.get(CHANGES, {"domains": "tasks,notes"}).json()["next_cursor"]
    assert client.get(CHANGES, {"domains": "notes,tasks", "cursor": cursor}).status_code == 200
    wrong = client.get(CHANGES, {"domains": "tasks", "cursor": cursor})
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_cursor"
    other = client_for(make_user("gus", Org.objects.create(name="Globex")))
    foreign = other.get(CHANGES, {"domains": "tasks,notes", "cursor": cursor})
    assert foreign.status_code == 400
    single = client.get("/api/sync/tasks/changes/", {"cursor": cursor})
    assert single.status_code == 400
    unknown = client.get(CHANGES, {"domains": "tasks,nope"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_domains"


def test_domains_on_several_databases_are_refused(client):
    with override_settings(MOBILE_SYNC=settings.MOBILE_SYNC):
        response = client.get(CHANGES, {"domains": "notes,routed-notes"})
    assert response.status_code == 200  # both on "default" for this user
