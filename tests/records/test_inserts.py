"""``django_mobile_sync.records.inserts.bulk_create``: what the push inserts new records with."""

from __future__ import annotations

import uuid
import warnings
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from django.db import DataError, IntegrityError, connection, models, transaction
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext

from django_mobile_sync.records.inserts import PASSTHROUGH, bulk_create, passthrough_types
from tests.testapp.models import Checkitem, Folder, Org, Task

TITLE = 'it\'s "{i}" \\ ünïcode {{"json": "in text"}}'


def new_tasks(org: Org, n: int) -> list[Task]:
    due = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    return [
        Task(
            org=org,
            mobile_id=uuid.UUID(int=i + 1),
            title=TITLE.format(i=i),
            priority=i % 6,
            approved=i % 2 == 0,
            notes="" if i % 3 else "multi\nline",
            due_at=due + timedelta(hours=i) if i % 2 else None,
            history=[{"n": i, "quote": '"\\', "nested": {"ok": True}}] if i % 2 else [],
            change_seq=1000 + i,
        )
        for i in range(n)
    ]


def test_writes_every_kind_of_value_and_sets_the_primary_keys(org: Org) -> None:
    tasks = new_tasks(org, 25)

    with CaptureQueriesContext(connection) as ctx:
        written = bulk_create(Task, tasks, "default")

    assert [id(t) for t in written] == [id(t) for t in tasks]
    statements = [q["sql"] for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO")
    stored = {t.mobile_id: t for t in Task.all_objects.all()}
    for i, task in enumerate(tasks):
        assert task.pk is not None and not task._state.adding and task._state.db == "default"
        row = stored[task.mobile_id]
        assert row.pk == task.pk
        assert row.title == TITLE.format(i=i)
        assert (row.priority, row.approved, row.notes) == (
            task.priority,
            task.approved,
            task.notes,
        )
        assert (row.due_at, row.history, row.change_seq) == (task.due_at, task.history, 1000 + i)
        assert (row.org_id, row.created_at, row.deleted_at) == (org.pk, task.created_at, None)
    assert [t.pk for t in tasks] == sorted(t.pk for t in tasks)  # in the order given


@pytest.mark.postgres
def test_one_insert_with_binary_arrays_on_postgresql(org: Org) -> None:
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(wrapper):
        bulk_create(Task, new_tasks(org, 10), "default")

    [sql] = seen
    assert "SELECT * FROM UNNEST(%b::uuid[]" in sql and '"testapp_task"."id"' in sql
    logged = [q["sql"] for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(logged) == 1 and logged[0].startswith('INSERT INTO "testapp_task"')
    assert "UNNEST($1::uuid[], $2::integer[]" in logged[0]  # as psycopg sent it


def test_the_database_refusing_a_value_raises_djangos_error(org: Org) -> None:
    tasks = new_tasks(org, 3)
    tasks[1].mobile_id = tasks[0].mobile_id
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_create(Task, tasks, "default")
    assert not Task.all_objects.exists()


@pytest.mark.postgres
def test_a_value_longer_than_its_column_is_refused_not_truncated(org: Org) -> None:
    [task] = new_tasks(org, 1)
    task.status = "x" * 11  # max_length=10
    with pytest.raises(DataError), transaction.atomic():
        bulk_create(Task, [task], "default")


def test_values_not_yet_of_their_columns_type_are_prepared_as_django_does(org: Org) -> None:
    [task] = new_tasks(org, 1)
    task.priority = "4"
    task.mobile_id = "00000000-0000-0000-0000-00000000002a"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Django: "received a naive datetime"
        task.due_at = datetime(2030, 1, 2, 3, 4)  # naive: Django makes it aware (UTC here)
        bulk_create(Task, [task], "default")
    row = Task.all_objects.get()
    assert (row.priority, row.mobile_id) == (4, uuid.UUID(int=42))
    assert row.due_at == datetime(2030, 1, 2, 3, 4, tzinfo=UTC)


def test_an_expression_goes_to_djangos_bulk_create(org: Org) -> None:
    [task] = new_tasks(org, 1)
    task.due_at = Now()
    bulk_create(Task, [task], "default")
    assert Task.all_objects.get().due_at is not None and task.pk is not None


def test_text_ids_and_references_to_records_written_before(org: Org) -> None:
    folder = Folder(org=org, mobile_id="folder-1", name="F")
    bulk_create(Folder, [folder], "default")
    [task] = new_tasks(org, 1)
    bulk_create(Task, [task], "default")
    items = [Checkitem(org=org, task=task, label=f"c{i}") for i in range(3)]
    bulk_create(Checkitem, items, "default")
    assert Folder.all_objects.get().mobile_id == "folder-1"
    assert set(Checkitem.all_objects.values_list("task_id", flat=True)) == {task.pk}


def test_nothing_to_write(org: Org) -> None:
    with CaptureQueriesContext(connection) as ctx:
        assert bulk_create(Task, [], "default") == []
    assert not ctx.captured_queries


@pytest.mark.postgres
@pytest.mark.parametrize(
    "value",
    [
        "text",
        "",
        'quotes " and \\',
        0,
        -(2**40),
        True,
        False,
        uuid.UUID(int=7),
        datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2030, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=2))),
        date(2030, 1, 2),
        None,
    ],
)
def test_passthrough_fields_prepare_such_values_unchanged(value: Any) -> None:
    """What lets the insert send a column of ``PASSTHROUGH`` as it is: Django's own
    preparation, on this Django, returns such a value unchanged (``None`` included)."""
    fields: list[Any] = [known() for known, _kinds in PASSTHROUGH]
    fields += [models.ForeignKey(Org, on_delete=models.CASCADE), models.PositiveIntegerField()]
    checked = 0
    for field in fields:
        if value is not None and type(value) not in passthrough_types(field):
            continue
        prepared = field.get_db_prep_save(value, connection)
        assert prepared == value, (field, value)
        assert value is None or isinstance(prepared, type(value)), (field, value)
        checked += 1
    assert checked


def test_fields_of_their_own_are_not_passthrough() -> None:
    class Upper(models.CharField):
        def get_prep_value(self, value: Any) -> Any:
            return str(value).upper()

    assert passthrough_types(Upper()) == ()
    assert passthrough_types(models.JSONField()) == ()
    assert passthrough_types(models.SlugField()) == (str,)
    assert passthrough_types(models.ForeignKey(Folder, on_delete=models.CASCADE)) == (int,)


@pytest.mark.postgres
def test_the_insert_is_never_prepared(org: Org) -> None:
    """Even where psycopg is told to prepare statements (``prepare_threshold`` in the
    database's OPTIONS; Django's default is never): behind PgBouncer's transaction pooling
    the next transaction may run on a server connection that never saw it prepared."""
    connection.ensure_connection()
    raw = connection.connection
    raw.prepare_threshold = 0  # prepare every statement at once
    try:
        for i in range(3):
            [task] = new_tasks(org, 1)
            task.mobile_id = uuid.UUID(int=100 + i)
            bulk_create(Task, [task], "default")
    finally:
        raw.prepare_threshold = None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        assert not [row for row in cursor.fetchall() if "INSERT" in row[0]]
    assert Task.all_objects.count() == 3
