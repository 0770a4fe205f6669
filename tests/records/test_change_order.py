"""Reading rows after a position in ``(change_seq, pk)`` order (``clock.after_position``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import F, Value

from django_mobile_sync.records.clock import RowAfter, after_position
from tests.testapp.models import Org, Task


class SpeltOut(RowAfter):
    """The ``a > x OR (a = x AND b > y)`` spelling other databases get."""

    as_postgresql = as_sqlite = RowAfter.as_sql


@pytest.fixture
def rows(org: Org, other_org: Org) -> list[tuple[int, int]]:
    """Tasks in three transactions (so three change_seq values, each shared by many rows)."""
    for n in (4, 1, 5):
        Task.all_objects.bulk_create(Task(org=org, title="t") for _ in range(n))
        Task.all_objects.bulk_create(Task(org=other_org, title="theirs") for _ in range(2))
    return list(
        Task.all_objects.filter(org=org)
        .order_by("change_seq", "pk")
        .values_list("change_seq", "pk")
    )


def after(org: Org, condition: Any) -> list[tuple[int, int]]:
    queryset = Task.all_objects.filter(org=org).filter(condition).order_by("change_seq", "pk")
    return list(queryset.values_list("change_seq", "pk"))


def test_rows_after_every_position(org: Org, rows: list[tuple[int, int]]) -> None:
    for index, (seq, pk) in enumerate(rows):
        assert after(org, after_position(Task, seq, pk)) == rows[index + 1 :]
    assert after(org, after_position(Task, -1, None)) == rows
    first_seq = rows[0][0]
    assert after(org, after_position(Task, first_seq, None)) == [
        r for r in rows if r[0] > first_seq
    ]


@pytest.mark.parametrize("expression", [RowAfter, SpeltOut], ids=["row", "spelt-out"])
def test_both_spellings_agree_on_three_columns(
    org: Org, rows: list[tuple[int, int]], expression: type[RowAfter]
) -> None:
    everything = list(
        Task.all_objects.filter(org=org)
        .order_by("change_seq", "priority", "pk")
        .values_list("change_seq", "priority", "pk")
    )
    for index, (seq, priority, pk) in enumerate(everything):
        condition = expression(
            [F("change_seq"), F("priority"), F("pk")], [Value(seq), Value(priority), Value(pk)]
        )
        found = (
            Task.all_objects.filter(org=org)
            .filter(condition)
            .order_by("change_seq", "priority", "pk")
            .values_list("change_seq", "priority", "pk")
        )
        assert list(found) == everything[index + 1 :]


def test_a_row_comparison_the_database_can_start_an_index_range_at(
    org: Org, rows: list[tuple[int, int]]
) -> None:
    seq, pk = rows[3]
    sql = str(Task.all_objects.filter(after_position(Task, seq, pk)).query)
    table = connection.ops.quote_name("testapp_task")
    columns = f"({table}.{connection.ops.quote_name('change_seq')}, {table}."
    assert columns in sql and " OR " not in sql


def test_needs_as_many_values_as_columns() -> None:
    with pytest.raises(ValueError, match="as many values"):
        RowAfter([F("change_seq")], [])
