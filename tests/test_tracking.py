"""Writes outside the sync API (save, delete, queryset and bulk methods) reach devices."""

from __future__ import annotations

import pytest
from django.db import NotSupportedError, connection

from tests.conftest import new_id, pull_all, push
from tests.testapp.models import Task


def make(org, **fields):
    return Task.objects.create(org=org, title=fields.pop("title", "t"), **fields)


def seqs(*tasks):
    return [Task.all_objects.get(pk=t.pk).change_seq for t in tasks]


def test_create_and_save_stamp_version_and_cursor(org):
    task = make(org)
    assert task.version == 1 and task.change_seq > 0 and task.created_at
    before = task.change_seq
    task.title = "edited"
    task.save()
    task.refresh_from_db()
    assert task.version == 2 and task.change_seq > before
    assert task.field_versions == {"title": 2}


def test_save_with_update_fields_still_stamps(org):
    task = make(org)
    task.notes = "n"
    task.save(update_fields=["notes"])
    task.refresh_from_db()
    assert task.version == 2 and task.notes == "n" and task.field_versions == {"notes": 2}


def test_instance_delete_is_a_tombstone(org):
    task = make(org)
    task.delete()
    row = Task.all_objects.get(pk=task.pk)
    assert row.deleted and row.version == 2 and row.deleted_at
    assert not Task.objects.filter(pk=task.pk).exists()
    row.hard_delete()
    assert not Task.all_objects.filter(pk=task.pk).exists()


def test_queryset_update_stamps_every_row(org):
    a, b = make(org), make(org)
    old = seqs(a, b)
    assert Task.objects.filter(pk__in=[a.pk, b.pk]).update(priority=4) == 2
    for task, seq in zip((a, b), old, strict=True):
        task.refresh_from_db()
        assert task.version == 2 and task.priority == 4 and task.change_seq > seq
        assert task.field_versions == {"priority": 2}


def test_queryset_delete_makes_tombstones(org):
    a, b = make(org), make(org)
    count, per_model = Task.objects.filter(pk=a.pk).delete()
    assert count == 1 and per_model == {"testapp.Task": 1}
    assert Task.all_objects.get(pk=a.pk).deleted and not Task.all_objects.get(pk=b.pk).deleted


def test_bulk_create_and_bulk_update_stamp(org):
    tasks = Task.objects.bulk_create([Task(org=org, title=f"b{i}") for i in range(3)])
    rows = list(Task.objects.order_by("pk"))
    assert all(r.version == 1 and r.change_seq > 0 for r in rows)
    for r in rows:
        r.title = r.title.upper()
    Task.objects.bulk_update(rows, ["title"])
    assert {(r.version, r.title[0]) for r in Task.objects.all()} == {(2, "B")}
    assert len(tasks) == 3


def test_orm_changes_reach_pulling_devices(client, org):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "device"}])
    _, cursor = pull_all(client)
    Task.objects.filter(mobile_id=mid).update(title="admin edit")
    Task.objects.bulk_create([Task(org=org, title="bulk")])
    make(org, title="saved")
    items, cursor = pull_all(client, cursor=cursor)
    assert sorted(i["title"] for i in items) == ["admin edit", "bulk", "saved"]
    Task.objects.filter(title="bulk").delete()
    items, _ = pull_all(client, cursor=cursor)
    assert [(i["deleted"], i["version"]) for i in items] == [(True, 2)]


def test_change_seq_increases_with_each_transaction(org):
    a = make(org)
    b = make(org)
    assert b.change_seq > a.change_seq
    if connection.vendor == "postgresql":
        # On PostgreSQL the cursor column holds the writing transaction's id.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            assert cursor.fetchone()[0] > b.change_seq


def test_bulk_create_refuses_update_conflicts(org):
    with pytest.raises(NotSupportedError, match="version"):
        Task.objects.bulk_create(
            [Task(org=org, title="x")],
            update_conflicts=True,
            unique_fields=["org", "mobile_id"],
            update_fields=["title"],
        )
