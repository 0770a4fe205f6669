"""Relations between synced records (docs/relations.md), through HTTP.

The test app's ``Task`` has children in three domains: ``checkitems`` (``CASCADE``, and a
self-reference ``after``), ``attachments`` (``PROTECT``) and ``reminders`` (``SET_NULL``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import ProtectedError
from rest_framework.test import APIClient

from tests.helpers.api import make_user, new_id, pull_all, push
from tests.testapp.models import Attachment, Checkitem, Org, Reminder, Signoff, Task


def outcome(body: dict[str, Any], mobile_id: str) -> dict[str, Any]:
    [item] = [
        i
        for key in ("synced_items", "conflicts", "errors")
        for i in body[key]
        if i["mobile_id"] == mobile_id
    ]
    return item


def test_a_child_names_its_parent_by_mobile_id_in_push_and_pull(client):
    task, item = new_id(), new_id()
    push(client, [{"mobile_id": task, "title": "Inspect the pump"}])
    body = push(client, [{"mobile_id": item, "task": task, "label": "valve"}], "checkitems")
    assert outcome(body.json(), item)["status"] == "created"
    stored = Checkitem.objects.get(mobile_id=item)
    assert stored.task == Task.objects.get(mobile_id=task)
    [pulled] = pull_all(client, "checkitems")[0]
    assert pulled["task"] == task and pulled["after"] is None


def test_children_before_their_parent_in_one_batch_are_ordered_by_the_server(client):
    first, second, third = new_id(), new_id(), new_id()
    task = new_id()
    push(client, [{"mobile_id": task, "title": "Service the chiller"}])
    entries = [  # each step comes after the previous one, sent in reverse order
        {"mobile_id": third, "task": task, "label": "3", "after": second},
        {"mobile_id": second, "task": task, "label": "2", "after": first},
        {"mobile_id": first, "task": task, "label": "1"},
    ]
    body = push(client, entries, "checkitems").json()
    assert [i["status"] for i in body["synced_items"]] == ["created"] * 3
    assert [i["mobile_id"] for i in body["synced_items"]] == [third, second, first]
    steps = {str(s.mobile_id): s for s in Checkitem.objects.select_related("after")}
    assert steps[third].after == steps[second] and steps[second].after == steps[first]


@pytest.mark.parametrize("reference", ["unknown", "foreign", "deleted"])
def test_a_reference_outside_the_scope_is_unknown_and_reveals_nothing(
    client, client_for, reference
):
    parent = new_id()
    if reference == "foreign":
        other = client_for(make_user("gus", Org.objects.create(name="Globex")))
        push(other, [{"mobile_id": parent, "title": "Globex's task"}])
    elif reference == "deleted":
        push(client, [{"mobile_id": parent, "title": "gone"}])
        push(client, [{"mobile_id": parent, "version": 1, "deleted": True}])
    child = new_id()
    body = push(client, [{"mobile_id": child, "task": parent, "label": "x"}], "checkitems")
    error = outcome(body.json(), child)
    assert error["status"] == "error" and error["code"] == "unknown_reference"
    assert error["field_errors"] == {"task": ["No record with this id exists in your scope."]}
    assert not Checkitem.all_objects.filter(mobile_id=child).exists()


def test_a_child_of_a_parent_that_failed_in_the_same_request_fails_too(client):
    parent, child, grandchild = new_id(), new_id(), new_id()
    body = push(
        client,
        [
            {"mobile_id": grandchild, "task": parent, "label": "g", "after": child},
            {"mobile_id": child, "task": parent, "label": "c"},
        ],
        "checkitems",
    ).json()
    assert {e["mobile_id"]: e["code"] for e in body["errors"]} == {
        grandchild: "unknown_reference",
        child: "unknown_reference",
    }
    bad_parent = push(client, [{"mobile_id": parent, "title": ""}]).json()  # title required
    assert bad_parent["errors"]
    body = push(client, [{"mobile_id": child, "task": parent, "label": "c"}], "checkitems")
    assert outcome(body.json(), child)["code"] == "unknown_reference"


def test_a_malformed_reference_is_a_field_error(client):
    child = new_id()
    body = push(client, [{"mobile_id": child, "task": "not-an-id", "label": "x"}], "checkitems")
    error = outcome(body.json(), child)
    assert error["status"] == "error" and "task" in error["field_errors"]
    assert "code" not in error  # a validation error, not an unknown record


def test_moving_a_child_to_another_parent_and_unsetting_a_nullable_reference(client):
    a, b, reminder = new_id(), new_id(), new_id()
    push(client, [{"mobile_id": a, "title": "A"}, {"mobile_id": b, "title": "B"}])
    push(client, [{"mobile_id": reminder, "task": a, "text": "call"}], "reminders")
    body = push(client, [{"mobile_id": reminder, "version": 1, "task": b}], "reminders").json()
    assert outcome(body, reminder)["status"] == "updated"
    assert Reminder.objects.get(mobile_id=reminder).task.mobile_id.hex == b.replace("-", "")
    body = push(client, [{"mobile_id": reminder, "version": 2, "task": None}], "reminders").json()
    assert outcome(body, reminder)["status"] == "updated"
    [pulled] = pull_all(client, "reminders")[0]
    assert pulled["task"] is None and pulled["version"] == 3


def test_a_conflict_shows_the_parent_by_mobile_id(client):
    task, item = new_id(), new_id()
    push(client, [{"mobile_id": task, "title": "T"}])
    push(client, [{"mobile_id": item, "task": task, "label": "a"}], "checkitems")
    Checkitem.objects.filter(mobile_id=item).update(label="server")
    body = push(client, [{"mobile_id": item, "version": 1, "label": "device"}], "checkitems")
    [conflict] = body.json()["conflicts"]
    assert conflict["server_data"]["task"] == task


def family(client: APIClient) -> dict[str, str]:
    ids = {name: new_id() for name in ("task", "step", "file", "note")}
    push(client, [{"mobile_id": ids["task"], "title": "parent"}])
    push(client, [{"mobile_id": ids["step"], "task": ids["task"], "label": "s"}], "checkitems")
    push(client, [{"mobile_id": ids["note"], "task": ids["task"], "text": "r"}], "reminders")
    return ids


def test_protect_refuses_a_push_delete_with_the_number_of_live_children(client):
    ids = family(client)
    push(client, [{"mobile_id": ids["file"], "task": ids["task"], "name": "a.pdf"}], "attachments")
    body = push(client, [{"mobile_id": ids["task"], "version": 1, "deleted": True}]).json()
    error = outcome(body, ids["task"])
    assert error["status"] == "error" and error["code"] == "referenced"
    assert error["error_message"].startswith("1 live record(s)")
    assert not Task.all_objects.get(mobile_id=ids["task"]).deleted
    Attachment.objects.filter(mobile_id=ids["file"]).delete()  # then the task may go
    body = push(client, [{"mobile_id": ids["task"], "version": 1, "deleted": True}]).json()
    assert outcome(body, ids["task"])["status"] == "deleted"


@pytest.mark.parametrize("via", ["push", "model", "queryset", "admin"])
def test_cascade_and_set_null_reach_devices_whatever_deletes_the_parent(client, admin_client, via):
    ids = family(client)
    _, steps_cursor = pull_all(client, "checkitems")
    _, notes_cursor = pull_all(client, "reminders")
    task = Task.objects.get(mobile_id=ids["task"])
    if via == "push":
        push(client, [{"mobile_id": ids["task"], "version": 1, "deleted": True}])
    elif via == "model":
        task.delete()
    elif via == "queryset":
        Task.objects.filter(pk=task.pk).delete()
    else:
        response = admin_client.post(
            f"/admin/testapp/task/{task.pk}/delete/", {"post": "yes"}, follow=True
        )
        assert response.status_code == 200
    steps, _ = pull_all(client, "checkitems", cursor=steps_cursor)
    assert [(s["mobile_id"], s["deleted"], s["version"]) for s in steps] == [
        (ids["step"], True, 2)
    ]
    notes, _ = pull_all(client, "reminders", cursor=notes_cursor)
    assert [(n["mobile_id"], n["task"], n["version"]) for n in notes] == [(ids["note"], None, 2)]


@pytest.mark.parametrize("via", ["model", "queryset"])
def test_protect_refuses_an_orm_delete(client, via):
    ids = family(client)
    push(client, [{"mobile_id": ids["file"], "task": ids["task"], "name": "a.pdf"}], "attachments")
    task = Task.objects.get(mobile_id=ids["task"])
    with pytest.raises(ProtectedError, match="1 live synced record"):
        task.delete() if via == "model" else Task.objects.filter(pk=task.pk).delete()
    assert not Task.all_objects.get(pk=task.pk).deleted
    assert not Checkitem.all_objects.get(mobile_id=ids["step"]).deleted


@pytest.mark.parametrize("via", ["push", "model", "queryset"])
def test_a_record_protecting_a_cascaded_child_protects_the_parent(client, via):
    """A sign-off (``PROTECT``) of a step the task's delete would cascade to: the delete is
    refused before anything is written, never a 500 from halfway down the cascade."""
    ids = family(client)
    step = Checkitem.objects.get(mobile_id=ids["step"])
    Signoff.objects.create(org=step.org, checkitem=step)
    task = Task.objects.get(mobile_id=ids["task"])
    if via == "push":
        body = push(client, [{"mobile_id": ids["task"], "version": 1, "deleted": True}]).json()
        error = outcome(body, ids["task"])
        assert error["status"] == "error" and error["code"] == "referenced", body
        assert error["error_message"].startswith("1 live record(s)")
    else:
        with pytest.raises(ProtectedError, match="1 live synced record"):
            task.delete() if via == "model" else Task.objects.filter(pk=task.pk).delete()
    assert not Task.all_objects.get(pk=task.pk).deleted
    assert not Checkitem.all_objects.get(pk=step.pk).deleted


@pytest.mark.parametrize("relation", ["cascade", "protect"])
def test_an_edit_never_brings_a_child_back_under_a_deleted_parent(client, relation):
    """A tombstone edited without naming its parent keeps that parent: it must be live.

    A cascaded step, or an attachment deleted before its task was: an edit at the
    version the device holds would make it live again under a tombstone.
    """
    ids = family(client)
    domain, child, edit = "checkitems", ids["step"], {"label": "edited offline"}
    if relation == "protect":
        domain, child, edit = "attachments", ids["file"], {"name": "b.pdf"}
        push(client, [{"mobile_id": child, "task": ids["task"], "name": "a.pdf"}], domain)
        push(client, [{"mobile_id": child, "version": 1, "deleted": True}], domain)
    push(client, [{"mobile_id": ids["task"], "version": 1, "deleted": True}])
    body = push(client, [{"mobile_id": child, "version": 2, **edit}], domain).json()
    error = outcome(body, child)
    assert error["status"] == "error" and error["code"] == "unknown_reference", body
    assert error["field_errors"] == {"task": ["No record with this id exists in your scope."]}
    model: Any = Checkitem if relation == "cascade" else Attachment
    assert model.all_objects.get(mobile_id=child).deleted

    # Naming a live parent brings it back under that one; so does an edit once the
    # parent is back.
    other = new_id()
    push(client, [{"mobile_id": other, "title": "another task"}])
    body = push(client, [{"mobile_id": child, "version": 2, "task": other, **edit}], domain)
    assert outcome(body.json(), child)["status"] == "updated"
    assert not model.all_objects.get(mobile_id=child).deleted


def test_an_edit_brings_a_child_back_under_its_live_parent(client):
    ids = family(client)
    push(client, [{"mobile_id": ids["step"], "version": 1, "deleted": True}], "checkitems")
    edit = {"mobile_id": ids["step"], "version": 2, "label": "not done after all"}
    body = push(client, [edit], "checkitems").json()
    assert outcome(body, ids["step"])["status"] == "updated"
    assert not Checkitem.all_objects.get(mobile_id=ids["step"]).deleted


def test_an_orm_delete_of_a_record_deleted_meanwhile_changes_nothing(client):
    ids = family(client)
    first, stale = (Task.objects.get(mobile_id=ids["task"]) for _ in range(2))
    assert first.delete() == (1, {"testapp.Task": 1})
    assert stale.delete() == (0, {})
    assert stale.deleted
    assert Task.all_objects.get(mobile_id=ids["task"]).version == 2


@pytest.mark.parametrize("how", ["through a relation", "distinct"])
def test_a_queryset_delete_that_joins_or_is_distinct_still_cascades(client, how):
    ids = family(client)
    tasks = Task.objects.filter(checkitems__label="s")
    if how == "distinct":
        tasks = tasks.distinct()
    assert tasks.delete() == (1, {"testapp.Task": 1})
    assert Checkitem.all_objects.get(mobile_id=ids["step"]).deleted
    assert Reminder.objects.get(mobile_id=ids["note"]).task is None


def test_deleting_a_parent_that_is_not_synced(client, org, user):
    from tests.testapp.models import Label

    push(client, [{"mobile_id": new_id(), "name": "urgent"}], "labels")
    label = Label.objects.get()
    label.owner = user
    label.save()
    _, cursor = pull_all(client, "labels")
    user.delete()  # SET_NULL: the label changes, with a new version devices pull
    [changed] = pull_all(client, "labels", cursor=cursor)[0]
    assert changed["version"] == 3 and Label.objects.get().owner is None
    with pytest.raises(ProtectedError, match="live synced labels reference it"):
        org.delete()  # CASCADE into live synced rows: refused, devices must be told first


def test_protect_in_the_admin_shows_the_protecting_records_and_deletes_nothing(
    client, admin_client
):
    ids = family(client)
    push(client, [{"mobile_id": ids["file"], "task": ids["task"], "name": "a.pdf"}], "attachments")
    task = Task.objects.get(mobile_id=ids["task"])
    page = admin_client.get(f"/admin/testapp/task/{task.pk}/delete/")
    assert page.status_code == 200
    assert (
        "would require deleting the following protected related objects" in page.content.decode()
    )
    admin_client.post(f"/admin/testapp/task/{task.pk}/delete/", {"post": "yes"})
    assert not Task.all_objects.get(pk=task.pk).deleted
