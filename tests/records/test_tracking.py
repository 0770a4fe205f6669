"""Writes outside the sync API (save, delete, queryset and bulk methods) reach devices: each
stamps its rows in its own transaction, on the database it writes to, within the row's
tenant."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import NotSupportedError, connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests.helpers.api import new_id, pull_all, push
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


def test_save_locks_its_row_within_its_tenant(org):
    task = Task.objects.create(org=org, title="a")
    task.title = "b"
    with CaptureQueriesContext(connection) as queries:
        task.save()
    [lock] = [q["sql"] for q in queries if q["sql"].startswith('SELECT "testapp_task"."version"')]
    assert '"org_id"' in lock.split("WHERE", 1)[1]


class ReadsToOther:
    """A primary/replica router: reads go to ``other``, writes to ``default``."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return "other"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True


def row_xmin(task: Task) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text::bigint FROM testapp_task WHERE id = %s", [task.pk])
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
@pytest.mark.parametrize("write", ["update", "delete", "bulk_create", "bulk_update"])
def test_writes_through_a_router_take_the_clock_on_the_write_alias(org, write):
    from django_mobile_sync.models import ChangeClock

    task = Task.objects.create(org=org, title="before")
    clock = ChangeClock.objects.using("default").filter(pk=1).values_list("value", flat=True)
    before = clock.first() or 0
    with (
        override_settings(DATABASE_ROUTERS=[ReadsToOther()]),
        CaptureQueriesContext(connections["other"]) as on_read_alias,
    ):
        if write == "update":
            Task.objects.filter(pk=task.pk).update(title="after")
        elif write == "delete":
            Task.objects.filter(pk=task.pk).delete()
        elif write == "bulk_create":
            [task] = Task.objects.bulk_create([Task(org=org, title="new")])
        else:
            task.title = "bulk"
            Task.objects.bulk_update([task], ["title"])
    assert on_read_alias.captured_queries == []
    written = Task.all_objects.using("default").get(pk=task.pk)
    if connection.vendor == "postgresql":  # stamped with the writing transaction's id
        assert written.change_seq % 2**32 == row_xmin(written)
    else:  # stamped from the write alias's counter (a delete's cascade may move it on)
        assert before < written.change_seq <= (clock.first() or 0)
