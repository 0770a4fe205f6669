"""Pull benchmarks: one page of 100 changes from tables of 10,000 and 1,000,000 rows.

The two tables live in two databases (``default`` and ``big``), so that their pages can be
timed alternately in one process: whatever else the machine does slows both alike. The
pulling tenant owns a table's rows (another tenant holds a tenth as many more,
interleaved in change order). Rows are generated with ``INSERT ... SELECT`` (from
``generate_series`` on PostgreSQL), as if written by transactions of 1,000 records each,
then vacuumed and analyzed. A page is timed at three places of the feed: the first page
(no cursor), the middle, and the tail (the last 100 changes: what a device that synced
recently asks for), through ``SyncService.pull()`` and through HTTP (the ``tasks-big``
domain reads the big table). The plan of each page query (``EXPLAIN ANALYZE`` on
PostgreSQL) is kept.

Usage: ``python -m benchmarks.pull --backend postgresql --sizes 10000,1000000``.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from benchmarks.common import drop, emit, generate_tasks, make_user, median, pg_admin, setup, timed

PAGE = 100
BIG_DB = "bench_dms_pull_big"


def position_at(org: Any, index: int, using: str) -> Any:
    """The cursor position just before the ``index``-th row of ``org`` in change order."""
    from benchmarks.benchapp.models import Task
    from django_mobile_sync.engine import Position

    if index <= 0:
        return None
    seq, pk = (
        Task.all_objects.using(using)
        .filter(org=org)
        .order_by("change_seq", "pk")
        .values_list("change_seq", "pk")[index - 1]
    )
    return Position(seq, pk)


def explain(action: Any, using: str) -> str:
    """The plan of the page query ``action`` runs (EXPLAIN ANALYZE on PostgreSQL)."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    connection = connections[using]
    with CaptureQueriesContext(connection) as ctx:
        action()
    [sql] = [
        q["sql"]
        for q in ctx.captured_queries
        if "benchapp_task" in q["sql"] and "ORDER BY" in q["sql"]
    ]
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS)" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"{prefix} {sql}")
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        return "\n".join(r[0] for r in rows)
    return "\n".join(str(r[-1]) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) > 2:
        parser.error("at most two sizes: a small and a big table")
    aliases = ["default", "big"][: len(sizes)]
    if len(sizes) == 2:
        os.environ["BENCH_DB_BIG"] = BIG_DB
        if args.backend == "postgresql":
            pg_admin(f'DROP DATABASE IF EXISTS "{BIG_DB}" WITH (FORCE)')
            pg_admin(f'CREATE DATABASE "{BIG_DB}"')
    setup(args.backend, "bench_dms_pull")
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from benchmarks.benchapp.models import Org
    from django_mobile_sync.domains import get_domain
    from django_mobile_sync.engine import encode_cursor
    from django_mobile_sync.service import SyncService

    if len(sizes) == 2:
        call_command("migrate", database="big", verbosity=0)
    user, token = make_user("puller")
    org = user.member.org
    other = Org.objects.create(name="other tenant")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    domains = {"default": get_domain("tasks"), "big": get_domain("tasks-big")}
    for alias, size in zip(aliases, sizes, strict=True):
        if alias != "default":  # the same tenants, with the same ids
            Org.objects.using(alias).create(id=org.id, name=org.name)
            Org.objects.using(alias).create(id=other.id, name=other.name)
        generate_tasks(org, size, using=alias)
        generate_tasks(other, size // 10, using=alias)

    def page_actions(alias: str, cursor: str | None) -> tuple[Any, Any]:
        domain = domains[alias]

        def by_service() -> dict[str, Any]:
            service = SyncService(domain, user=user, scope={"org": org}, device_id="d")
            return service.pull(cursor=cursor, limit=PAGE)

        def by_http() -> dict[str, Any]:
            params: dict[str, Any] = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
            response = api.get(f"/api/sync/{domain.name}/changes/", params)
            assert response.status_code == 200, response.content[:300]
            return json.loads(response.content)

        return by_service, by_http

    results: dict[str, Any] = {str(size): {} for size in sizes}
    for place in ("first", "middle", "tail"):
        actions = {}
        for alias, size in zip(aliases, sizes, strict=True):
            index = {"first": 0, "middle": size // 2, "tail": size - PAGE}[place]
            position = position_at(org, index, alias)
            cursor = position and encode_cursor(domains[alias].name, {"org": org}, position)
            actions[alias] = page_actions(alias, cursor)
            page = actions[alias][1]()
            assert len(page["items"]) == PAGE, len(page["items"])
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeat):  # alternately: every size, both ways, each round
            for alias in aliases:
                by_service, by_http = actions[alias]
                times.setdefault((alias, "service"), []).append(timed(by_service)[0])
                times.setdefault((alias, "http"), []).append(timed(by_http)[0])
        for alias, size in zip(aliases, sizes, strict=True):
            entry = {
                "service": median(times[(alias, "service")]),
                "http": median(times[(alias, "http")]),
                "plan": explain(actions[alias][0], alias),
            }
            results[str(size)][place] = entry
            print(
                f"[{args.backend}] pull {size:>9,} rows, {place:>6} page: "
                f"service={entry['service'] * 1000:.2f}ms http={entry['http'] * 1000:.2f}ms",
                flush=True,
            )
    drop(args.backend, "bench_dms_pull")
    if len(sizes) == 2:
        drop(args.backend, BIG_DB)
    emit({"pull": results, "backend": args.backend})


if __name__ == "__main__":
    main()
