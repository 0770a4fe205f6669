"""The number of queries of a push or a pull does not grow with the batch or page size.

Each test measures the same operation with 10 and with 1,000 records, through the HTTP API
and through ``SyncService`` directly, and asserts the counts are equal: on PostgreSQL exactly
equal; on SQLite equal once the chunks Django splits bulk writes into are accounted for.

Why SQLite needs the chunk allowance: Django 5.2 assumes SQLite accepts at most
``connection.features.max_query_params`` (999) parameters per statement, so ``bulk_create``
and ``bulk_update`` send ``ceil(n / connection.ops.bulk_batch_size(fields, objs))``
statements, where the batch size is ``999 // number of columns per row``. That is Django
protecting itself from an old SQLite limit, not a per-record query of the library. (Django 6
asks SQLite for its real limit, 32,766 by default, so the chunks mostly disappear there.) On
PostgreSQL ``bulk_batch_size`` is ``len(objs)``: one statement per bulk write, so the
allowance is 0 and the two counts must be identical.

Warm-up: the first push of a test pays once for things that are then cached or exist (the
SQLite change-clock row, the user's ``member``/``org`` looked up by the scope callable), so
every test does one small push before measuring.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.db import connection
from django.db.models import AutoField
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from django_mobile_sync.models import STAMP_FIELDS
from django_mobile_sync.service import SyncService
from tests.helpers.api import declared_domain, new_id, pull, push
from tests.testapp.models import Task

SMALL, LARGE = 10, 1000


VIA = pytest.mark.parametrize("via", ["http", "service"])


def insert_statements(n: int) -> int:
    """Statements Django's ``bulk_create`` uses for ``n`` new Tasks on this database.

    ``QuerySet.bulk_create`` inserts every concrete field except the AutoField of objects
    without a primary key, in batches of ``ops.bulk_batch_size(fields, objs)``.
    """
    fields = [f for f in Task._meta.concrete_fields if not isinstance(f, AutoField)]
    size = max(connection.ops.bulk_batch_size(fields, [None] * n), 1)
    return math.ceil(n / size)


def update_statements(n: int, written: Sequence[str]) -> int:
    """Statements Django's ``bulk_update`` uses for ``n`` Tasks writing ``written`` columns.

    ``QuerySet.bulk_update`` sizes its batches with ``bulk_batch_size([pk, pk, *fields])``
    (the pk appears in the WHERE and in every CASE). The push writes the changed wire
    fields, the domain's history field and the stamp columns (``STAMP_FIELDS``: version,
    updated_at, change_seq, field_versions); see ``SyncService._write``.
    """
    opts = Task._meta
    fields = [opts.pk, opts.pk, *(opts.get_field(name) for name in sorted(set(written)))]
    size = max(connection.ops.bulk_batch_size(fields, [None] * n), 1)
    return math.ceil(n / size)


def update_columns(*changed: str) -> list[str]:
    history = declared_domain("tasks").history_field
    return [*changed, *([history] if history else []), *STAMP_FIELDS]


def statuses(body: dict[str, Any]) -> Counter[str]:
    return Counter(
        item["status"] for key in ("synced_items", "conflicts", "errors") for item in body[key]
    )


@pytest.fixture
def send(user: Any, org: Any, client: APIClient) -> Callable[..., Callable[[list[Any]], Any]]:
    """``send(via)(entries)`` pushes through HTTP or the service and returns the body."""

    def build(via: str) -> Callable[[list[Any]], Any]:
        if via == "http":

            def over_http(entries: list[Any]) -> Any:
                response = push(client, entries)
                assert response.status_code == 200, response.content
                return response.json()

            return over_http

        domain = declared_domain("tasks")

        def over_service(entries: list[Any]) -> Any:
            service = SyncService(domain, user=user, scope={"org": org}, device_id="dev-1")
            return service.push(entries).as_dict()

        return over_service

    return build


def make_tasks(org: Any, n: int, prefix: str = "task") -> list[Task]:
    return Task.objects.bulk_create(Task(org=org, title=f"{prefix} {i}") for i in range(n))


def wait_until_visible_to_pull(timeout: float = 10.0) -> None:
    """On PostgreSQL, wait until no transaction older than our writes is open in the cluster.

    Pull serves rows below ``pg_snapshot_xmin(pg_current_snapshot())``, and transaction ids
    are cluster-wide: a transaction of another test run on the same server (another
    database included) holds the horizon back for a moment. Counting queries does not
    depend on it, but the page sizes asserted below do.
    """
    if connection.vendor != "postgresql":
        return
    newest = max(Task.all_objects.values_list("change_seq", flat=True), default=0)
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            if int(cursor.fetchone()[0]) > newest or time.monotonic() > deadline:
                return
        time.sleep(0.05)


def count_queries(action: Callable[[], Any]) -> tuple[int, Any, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        result = action()
    return len(ctx), result, [q["sql"] for q in ctx.captured_queries]


def warm_up(sender: Callable[[list[Any]], Any]) -> None:
    body = sender([{"mobile_id": new_id(), "title": "warm-up"}])
    assert statuses(body) == {"created": 1}


@VIA
def test_push_of_new_records_costs_the_same_for_10_and_1000(
    via: str, send: Any, django_assert_num_queries: Any
) -> None:
    sender = send(via)
    warm_up(sender)

    def entries(n: int) -> list[dict[str, Any]]:
        return [{"mobile_id": new_id(), "title": f"new {i}", "priority": i % 5} for i in range(n)]

    small, body, _ = count_queries(lambda: sender(entries(SMALL)))
    assert statuses(body) == {"created": SMALL}

    extra = insert_statements(LARGE) - insert_statements(SMALL)
    print(
        f"\n[{connection.vendor}/{via}] push {SMALL} new: {small} queries; "
        f"{LARGE} new: {small + extra} expected (bulk_create chunks {insert_statements(SMALL)}"
        f" -> {insert_statements(LARGE)})"
    )
    with django_assert_num_queries(small + extra):
        body = sender(entries(LARGE))
    assert statuses(body) == {"created": LARGE}
    if connection.vendor == "postgresql":
        assert extra == 0
    assert Task.objects.count() == 1 + SMALL + LARGE


@VIA
def test_push_of_updates_costs_the_same_for_10_and_1000(
    via: str, send: Any, org: Any, django_assert_num_queries: Any
) -> None:
    sender = send(via)
    warm_up(sender)
    tasks = make_tasks(org, SMALL + LARGE)

    def entries(batch: list[Task]) -> list[dict[str, Any]]:
        return [
            {"mobile_id": str(t.mobile_id), "version": 1, "title": f"{t.title} (edited)"}
            for t in batch
        ]

    small, body, _ = count_queries(lambda: sender(entries(tasks[:SMALL])))
    assert statuses(body) == {"updated": SMALL}

    columns = update_columns("title")
    extra = update_statements(LARGE, columns) - update_statements(SMALL, columns)
    print(
        f"\n[{connection.vendor}/{via}] push {SMALL} updates: {small} queries; "
        f"{LARGE} updates: {small + extra} expected"
    )
    with django_assert_num_queries(small + extra):
        body = sender(entries(tasks[SMALL:]))
    assert statuses(body) == {"updated": LARGE}
    if connection.vendor == "postgresql":
        assert extra == 0
    assert set(
        Task.objects.filter(org=org).exclude(title="warm-up").values_list("version", flat=True)
    ) == {2}


@VIA
def test_push_of_deletes_costs_the_same_for_10_and_1000(
    via: str, send: Any, org: Any, django_assert_num_queries: Any
) -> None:
    sender = send(via)
    warm_up(sender)
    tasks = make_tasks(org, SMALL + LARGE)

    def entries(batch: list[Task]) -> list[dict[str, Any]]:
        return [{"mobile_id": str(t.mobile_id), "version": 1, "deleted": True} for t in batch]

    small, body, _ = count_queries(lambda: sender(entries(tasks[:SMALL])))
    assert statuses(body) == {"deleted": SMALL}

    columns = update_columns("deleted", "deleted_at")
    extra = update_statements(LARGE, columns) - update_statements(SMALL, columns)
    print(
        f"\n[{connection.vendor}/{via}] push {SMALL} deletes: {small} queries; "
        f"{LARGE} deletes: {small + extra} expected"
    )
    with django_assert_num_queries(small + extra):
        body = sender(entries(tasks[SMALL:]))
    assert statuses(body) == {"deleted": LARGE}
    if connection.vendor == "postgresql":
        assert extra == 0
    assert Task.all_objects.filter(org=org, deleted=True).count() == SMALL + LARGE


@pytest.mark.parametrize("from_cursor", [False, True], ids=["first-page", "next-page"])
@VIA
def test_pull_page_costs_the_same_for_10_and_1000(
    via: str,
    from_cursor: bool,
    user: Any,
    org: Any,
    client: APIClient,
    django_assert_num_queries: Any,
) -> None:
    # One record more than the large page, plus one to move the cursor past: both pages
    # are full and say has_more.
    make_tasks(org, LARGE + 2)
    wait_until_visible_to_pull()
    service = SyncService(declared_domain("tasks"), user=user, scope={"org": org}, device_id="d")

    def page(limit: int, cursor: str | None) -> dict[str, Any]:
        if via == "service":
            return service.pull(cursor=cursor, limit=limit)
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = pull(client, **params)
        assert response.status_code == 200, response.content
        return response.json()

    cursor = page(1, None)["next_cursor"] if from_cursor else None  # also warms up HTTP
    page(1, None)

    small, body, _ = count_queries(lambda: page(SMALL, cursor))
    assert len(body["items"]) == SMALL and body["has_more"]

    print(
        f"\n[{connection.vendor}/{via}] pull page of {SMALL}: {small} queries "
        f"({'after a cursor' if from_cursor else 'from the start'})"
    )
    with django_assert_num_queries(small):  # no bulk writes: equal on every backend
        body = page(LARGE, cursor)
    assert len(body["items"]) == LARGE and body["has_more"]
