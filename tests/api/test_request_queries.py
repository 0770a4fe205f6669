"""The SQL of one push request and of one pull page, over HTTP, is bounded.

The whole request counts, as a device sends it: token authentication, the default push
throttles counting in the database store, the scope lookup, the transaction, the change
clock, the locks, the writes and the batch log (docs/benchmarks.md, "Where a push request
goes"). A push of 1 entry and a push of 100 cost the same statements: nothing per request
is done per entry. The bounds are today's numbers; a change that adds a statement to every
request must say why here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import AutoField
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.helpers.api import make_user, new_id, pull, push
from tests.testapp.models import Task, Visit

#: Statements of one push request of new records, per backend. PostgreSQL: the token, the
#: throttle counters (one statement for both, see docs/benchmarks.md; 2 before), the scope
#: (the test app's member and org), BEGIN, the change clock (the transaction id), the lock
#: of the existing records, SAVEPOINT, INSERT, RELEASE (a failing bulk write is retried row
#: by row), the batch log, COMMIT. SQLite, inside the test's transaction (BEGIN/COMMIT are
#: a savepoint), counts each counter apart and reads and bumps its clock row instead of
#: the transaction id.
PUSH_QUERIES = {"postgresql": 12, "sqlite": 14}
#: Statements of one pull page from the start and from a cursor: token, scope (2), the
#: clock, the page; from a cursor, also whether tombstones it may have missed were purged.
PULL_QUERIES = {"postgresql": (5, 6), "sqlite": (5, 6)}
#: Statements of one pull page of a domain with a view (docs/views.md), a worker's: from
#: the start, from a cursor, and during a backfill after the user's keys changed (a
#: promotion). A plain page's, and the moves out of the user's keys after the position; a
#: backfill page instead of the view's changes reads the records of the keys gained and
#: the change clock where the keys given up retire.
VIEW_PULL_QUERIES = {"postgresql": (6, 7, 7), "sqlite": (6, 7, 7)}
#: A worker's view of the visits: their own and the unassigned ones.
ASSIGNED = {"key": "assignee", "user": "pk", "unassigned": True, "sees_all": f"{__name__}.boss"}
BOSSES: set[int] = set()


def boss(user: Any) -> bool:
    return user.pk in BOSSES


@pytest.fixture
def device(user: Any) -> APIClient:
    """A device authenticating with a token, as a real one does (no forced login)."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def insert_statements(n: int) -> int:
    """Statements ``bulk_create`` splits ``n`` new Tasks into on this database."""
    fields = [f for f in Task._meta.concrete_fields if not isinstance(f, AutoField)]
    return math.ceil(n / max(connection.ops.bulk_batch_size(fields, [None] * n), 1))


def statements(action: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        action()
    return [q["sql"] for q in ctx.captured_queries]


def push_of(device: APIClient, n: int) -> Callable[[], Any]:
    entries = [{"mobile_id": new_id(), "title": f"task {i}", "priority": i % 5} for i in range(n)]

    def send() -> None:
        response = push(device, entries)
        assert response.status_code == 200, response.content
        assert [i["status"] for i in response.json()["synced_items"]] == ["created"] * n

    return send


def listing(sql: list[str]) -> str:
    return "\n".join(f"  {i + 1:2}. {s[:160]}" for i, s in enumerate(sql))


def test_one_push_request_costs_a_bounded_number_of_statements_whatever_its_size(
    device: APIClient,
) -> None:
    push_of(device, 1)()  # warm-up: the first push creates the throttle counters' rows
    one = statements(push_of(device, 1))
    hundred = statements(push_of(device, 100))
    print(f"\n[{connection.vendor}] one push request:\n{listing(hundred)}")

    # SQLite: Django splits a bulk INSERT into chunks of 999 parameters (0 on PostgreSQL).
    chunks = insert_statements(100) - insert_statements(1)
    assert len(one) + chunks == len(hundred), f"1:\n{listing(one)}\n100:\n{listing(hundred)}"
    assert len(one) <= PUSH_QUERIES[connection.vendor], listing(one)
    assert Task.objects.count() == 102


def test_one_pull_page_costs_a_bounded_number_of_statements_whatever_its_size(
    device: APIClient, org: Any
) -> None:
    Task.objects.bulk_create(Task(org=org, title=f"task {i}") for i in range(200))
    # Rows of a transaction still open anywhere on the cluster are not served yet: wait for
    # a full first page (docs/cursor.md).
    for _ in range(100):
        first = pull(device, limit=100).json()
        if len(first["items"]) == 100:
            break
    cursor = first["next_cursor"]

    def page(size: int, after: str | None = None) -> Callable[[], Any]:
        def read() -> None:
            response = pull(device, limit=size, **({"cursor": after} if after else {}))
            assert response.status_code == 200, response.content
            assert len(response.json()["items"]) == size

        return read

    start = {size: statements(page(size)) for size in (1, 100)}
    after = {size: statements(page(size, cursor)) for size in (1, 100)}
    print(f"\n[{connection.vendor}] one pull page after a cursor:\n{listing(after[100])}")

    assert len(start[1]) == len(start[100]), f"{listing(start[1])}\n{listing(start[100])}"
    assert len(after[1]) == len(after[100]), f"{listing(after[1])}\n{listing(after[100])}"
    assert len(start[100]) <= PULL_QUERIES[connection.vendor][0], listing(start[100])
    assert len(after[100]) <= PULL_QUERIES[connection.vendor][1], listing(after[100])


def test_one_view_pull_page_costs_a_bounded_number_of_statements_whatever_its_size(
    device: APIClient, user: Any, org: Any, domain_options: Callable[..., Any]
) -> None:
    bob = make_user("bob", org)
    Visit.objects.bulk_create(Visit(org=org, assignee=user, note=f"v {i}") for i in range(200))
    Visit.objects.bulk_create(Visit(org=org, assignee=bob, note=f"b {i}") for i in range(200))
    with domain_options("visits", view=ASSIGNED):
        for _ in range(100):  # as above: wait for a full first page
            first = pull(device, "visits", limit=100).json()
            if len(first["items"]) == 100:
                break
        cursor = first["next_cursor"]

        def page(size: int, after: str | None = None) -> Callable[[], Any]:
            def read() -> None:
                query = {"limit": size, **({"cursor": after} if after else {})}
                response = pull(device, "visits", **query)
                assert response.status_code == 200, response.content
                assert len(response.json()["items"]) == size

            return read

        start = {size: statements(page(size)) for size in (1, 100)}
        after = {size: statements(page(size, cursor)) for size in (1, 100)}
        while (answer := pull(device, "visits", cursor=cursor, limit=1000).json())["has_more"]:
            cursor = answer["next_cursor"]
        cursor = answer["next_cursor"]
        BOSSES.add(user.pk)  # promoted: bob's 200 visits arrive, a backfill
        try:
            gain = {size: statements(page(size, cursor)) for size in (1, 100)}
        finally:
            BOSSES.discard(user.pk)
    print(f"\n[{connection.vendor}] one view pull page after a cursor:\n{listing(after[100])}")
    print(f"[{connection.vendor}] one backfill page:\n{listing(gain[100])}")
    for counted in (start, after, gain):
        assert len(counted[1]) == len(counted[100]), (
            f"{listing(counted[1])}\n{listing(counted[100])}"
        )
    bounds = VIEW_PULL_QUERIES[connection.vendor]
    assert len(start[100]) <= bounds[0], listing(start[100])
    assert len(after[100]) <= bounds[1], listing(after[100])
    assert len(gain[100]) <= bounds[2], listing(gain[100])
