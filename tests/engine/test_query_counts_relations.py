"""Relations cost the same number of queries at 10 and at 1,000 parents or children
(docs/relations.md#cost).

As in ``test_query_counts.py``, SQLite's bulk writes may be split into chunks of Django's
``bulk_batch_size``; the allowance is computed, and is 0 on PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.db.models import AutoField
from django.test.utils import CaptureQueriesContext

from tests.helpers.api import multi_push, new_id, pull_all, push
from tests.testapp.models import Checkitem, Task

SMALL, LARGE = 10, 1000


def insert_statements(model: Any, n: int) -> int:
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoField)]
    return math.ceil(n / max(connection.ops.bulk_batch_size(fields, [None] * n), 1))


def counted(action: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries)


def test_children_of_one_parent_cost_the_same_for_10_and_1000(client):
    parent = new_id()
    push(client, [{"mobile_id": parent, "title": "parent"}])
    push(client, [{"mobile_id": new_id(), "task": parent, "label": "warm-up"}], "checkitems")

    def children(n: int) -> Callable[[], Any]:
        entries = [{"mobile_id": new_id(), "task": parent, "label": str(i)} for i in range(n)]

        def send() -> None:
            body = push(client, entries, "checkitems").json()
            assert [i["status"] for i in body["synced_items"]] == ["created"] * n, body

        return send

    small, large = counted(children(SMALL)), counted(children(LARGE))
    chunks = insert_statements(Checkitem, LARGE) - insert_statements(Checkitem, SMALL)
    assert large == small + chunks, (small, large, chunks)


def test_new_parents_with_children_in_one_request_cost_the_same_for_10_and_1000(client, settings):
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "MAX_BATCH_SIZE": 2 * LARGE}
    multi_push(client, {"tasks": [{"mobile_id": new_id(), "title": "warm-up"}], "checkitems": []})

    def families(n: int) -> Callable[[], Any]:
        parents = [new_id() for _ in range(n)]
        domains = {
            "checkitems": [  # children first, each naming a parent of the same request
                {"mobile_id": new_id(), "task": parent, "label": "step"} for parent in parents
            ],
            "tasks": [{"mobile_id": parent, "title": "parent"} for parent in parents],
        }

        def send() -> None:
            body = multi_push(client, domains).json()
            assert all(not lists["errors"] for lists in body["domains"].values()), body

        return send

    small, large = counted(families(SMALL)), counted(families(LARGE))
    chunks = sum(
        insert_statements(model, LARGE) - insert_statements(model, SMALL)
        for model in (Task, Checkitem)
    )
    assert large == small + chunks, (small, large, chunks)
    if connection.vendor == "postgresql":
        assert chunks == 0


def test_pulling_children_reads_their_parents_with_them(client):
    parents = [new_id() for _ in range(LARGE)]
    push(client, [{"mobile_id": p, "title": "parent"} for p in parents])
    push(
        client,
        [{"mobile_id": new_id(), "task": p, "label": "step"} for p in parents],
        "checkitems",
    )
    small = counted(lambda: client.get("/api/sync/checkitems/changes/", {"limit": SMALL}))
    large = counted(lambda: client.get("/api/sync/checkitems/changes/", {"limit": LARGE}))
    assert large == small, (small, large)
    items, _ = pull_all(client, "checkitems", limit=LARGE)
    assert {i["task"] for i in items} == set(parents)
