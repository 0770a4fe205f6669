"""``django_mobile_sync.records.bulk.bulk_update``: what the push writes updates with."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from django_mobile_sync.records.bulk import bulk_update, in_values
from tests.testapp.models import Org, Task


@pytest.fixture
def tasks(org: Org) -> list[Task]:
    return Task.all_objects.bulk_create(Task(org=org, title=f"t{i}") for i in range(30))


def test_writes_every_kind_of_value(tasks: list[Task], other_org: Org) -> None:
    due = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    for i, task in enumerate(tasks):
        task.title = f'it\'s "{i}" \\ ünïcode'
        task.priority = i % 6
        task.approved = i % 2 == 0
        task.notes = "" if i % 3 else "multi\nline"
        task.due_at = due if i % 2 else None
        task.history = [{"n": i, "nested": {"ok": True}}] if i % 2 else []
        task.org = other_org if i == 0 else task.org
        task.mobile_id = uuid.UUID(int=i)
    names = ["title", "priority", "approved", "notes", "due_at", "history", "org", "mobile_id"]

    assert bulk_update(Task, tasks, names, "default") == len(tasks)

    for i, stored in enumerate(Task.all_objects.order_by("pk")):
        assert stored.title == f'it\'s "{i}" \\ ünïcode'
        assert (stored.priority, stored.approved) == (i % 6, i % 2 == 0)
        assert stored.notes == ("" if i % 3 else "multi\nline")
        assert stored.due_at == (due if i % 2 else None)
        assert stored.history == ([{"n": i, "nested": {"ok": True}}] if i % 2 else [])
        assert stored.org_id == (other_org.pk if i == 0 else tasks[1].org_id)
        assert stored.mobile_id == uuid.UUID(int=i)


def test_leaves_other_rows_and_columns_alone(tasks: list[Task]) -> None:
    edited, untouched = tasks[:10], tasks[10:]
    for task in edited:
        task.title, task.notes = "edited", "not written"
    bulk_update(Task, edited, ["title"], "default")
    assert set(
        Task.all_objects.filter(pk__in=[t.pk for t in edited]).values_list("title", "notes")
    ) == {("edited", "")}
    assert not Task.all_objects.filter(pk__in=[t.pk for t in untouched], title="edited").exists()


def test_sends_as_many_statements_as_django_bulk_update(tasks: list[Task]) -> None:
    names = ["title", "priority", "notes", "history", "version", "updated_at"]
    with CaptureQueriesContext(connection) as ctx:
        bulk_update(Task, tasks, names, "default")
    opts = Task._meta
    fields = [opts.pk, opts.pk, *(opts.get_field(n) for n in names)]
    size = connection.ops.bulk_batch_size(fields, tasks)
    statements = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(statements) == math.ceil(len(tasks) / size), statements
    if connection.vendor == "postgresql":
        assert len(statements) == 1


def test_falls_back_to_django_for_expressions(tasks: list[Task]) -> None:
    for task in tasks:
        task.priority = F("priority") + 2
    assert bulk_update(Task, tasks, ["priority"], "default") == len(tasks)
    assert set(Task.all_objects.values_list("priority", flat=True)) == {2}


def test_no_records_no_query(db: None) -> None:
    with CaptureQueriesContext(connection) as ctx:
        assert bulk_update(Task, [], ["title"], "default") == 0
    assert len(ctx) == 0


@pytest.mark.postgres  # SQLite has no varchar lengths
def test_a_value_too_long_fails_instead_of_being_truncated(tasks: list[Task]) -> None:
    tasks[0].title = "x" * 201
    with pytest.raises(DatabaseError), transaction.atomic():
        bulk_update(Task, tasks[:1], ["title"], "default")
    assert Task.all_objects.get(pk=tasks[0].pk).title == "t0"


def test_in_values_finds_what_an_in_lookup_finds(tasks: list[Task], other_org: Org) -> None:
    other = Task.all_objects.create(org=other_org, title="other tenant")
    wanted = [t.mobile_id for t in tasks[:5]] + [other.mobile_id, uuid.uuid4()]
    queryset = Task.all_objects.filter(org=tasks[0].org)

    with CaptureQueriesContext(connection) as ctx:
        found = list(in_values(queryset, "mobile_id", wanted).order_by("pk"))

    assert found == list(queryset.filter(mobile_id__in=wanted).order_by("pk"))
    assert found == tasks[:5]
    assert list(in_values(queryset, "mobile_id", [])) == []
    sql = ctx.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":  # one array parameter, not one per value
        assert "= ANY(" in sql and " IN (" not in sql
    else:
        assert " IN (" in sql
