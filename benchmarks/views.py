"""Views benchmarks (docs/views.md), as ratios of one run:

- a worker's pull page (100 of their 1,000 tasks) in a tenant of 1,000,000 tasks, against
  the same page in a tenant of 1,000 (goal ≤ 1.5x): the view's index serves both;
- the write cost of one reassignment (its ``ViewMove`` row included) against one plain
  update of the same record, through ``save()`` (goal ≤ 1.5x);
- a backfill of 100,000 records (a user gaining a key): pages per second, and the peak
  memory of the process (``ru_maxrss``) against its size before.

Usage: ``python -m benchmarks.views --backend postgresql --big 1000000 --backfill 100000``.
"""

from __future__ import annotations

import argparse
import resource
from typing import Any

from benchmarks.common import drop, emit, generate_tasks, make_user, median, setup, timed

PAGE = 100
MINE = 1000


def assign(org: Any, key: str, count: int, every: int = 1) -> None:
    """Give the key ``key`` to ``count`` live, unassigned tasks of ``org``, one in ``every``
    in id order, in SQL: the setting up is not measured."""
    from django.db import connection

    from benchmarks.benchapp.models import Task

    pks = list(
        Task.objects.filter(org=org, assignee__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[: count * every : every]
    )
    with connection.cursor() as cursor:
        for start in range(0, len(pks), 10_000):
            chunk = pks[start : start + 10_000]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"UPDATE benchapp_task SET assignee = %s WHERE id IN ({marks})", [key, *chunk]
            )
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "ANALYZE benchapp_task")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--backfill", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    setup(args.backend, "bench_dms_views")
    from benchmarks.benchapp import scopes
    from benchmarks.benchapp.models import Task
    from django_mobile_sync.domains import get_domain
    from django_mobile_sync.service import SyncService

    jobs = get_domain("jobs")
    assert jobs is not None
    worker, _ = make_user("worker")
    loner, _ = make_user("loner")
    big_org, small_org = worker.member.org, loner.member.org
    # The big tenant: args.big tasks, MINE of them the worker's; the small: MINE, all loner's.
    generate_tasks(big_org, args.big)
    generate_tasks(small_org, MINE + MINE // 99 + 1)
    assign(big_org, "worker", MINE, max(args.big // MINE // 2, 1))
    assign(small_org, "loner", MINE)

    def page(user: Any) -> dict[str, Any]:
        service = SyncService(jobs, user=user, scope={"org": user.member.org}, device_id="d")
        return service.pull(limit=PAGE)

    assert len(page(worker)["items"]) == PAGE and len(page(loner)["items"]) == PAGE
    times: dict[str, list[float]] = {"big": [], "small": []}
    for _ in range(args.repeat):
        times["big"].append(timed(lambda: page(worker))[0])
        times["small"].append(timed(lambda: page(loner))[0])
    pull = {
        "big_ms": median(times["big"]) * 1000,
        "small_ms": median(times["small"]) * 1000,
    }
    pull["ratio"] = pull["big_ms"] / pull["small_ms"]
    print(f"[{args.backend}] a worker's page: {pull}", flush=True)

    # One reassignment against one plain update of the same kind of record.
    records = list(Task.objects.filter(org=big_org, assignee="worker")[: args.repeat * 2])
    writes: dict[str, list[float]] = {"plain": [], "reassign": []}
    for n, record in enumerate(records):
        if n % 2:
            record.notes = f"edited {n}"
            writes["plain"].append(timed(record.save)[0])
        else:
            record.assignee = "loner"
            writes["reassign"].append(timed(record.save)[0])
    write = {"plain_ms": median(writes["plain"]) * 1000}
    write["reassign_ms"] = median(writes["reassign"]) * 1000
    write["ratio"] = write["reassign_ms"] / write["plain_ms"]
    print(f"[{args.backend}] one write: {write}", flush=True)

    # A backfill: the worker gains the key "team", held by args.backfill records.
    assign(big_org, "team", args.backfill)
    service = SyncService(jobs, user=worker, scope={"org": big_org}, device_id="d")
    cursor = None
    while True:
        answer = service.pull(cursor=cursor, limit=1000)
        cursor = answer["next_cursor"]
        if not answer["has_more"]:
            break
    scopes.EXTRA_KEYS["worker"] = {"team"}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pages = received = 0

    def backfill() -> None:
        nonlocal cursor, pages, received
        while True:
            answer = service.pull(cursor=cursor, limit=1000)
            cursor, pages = answer["next_cursor"], pages + 1
            received += len(answer["items"])
            if not answer["has_more"]:
                return

    seconds = timed(backfill)[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fill = {
        "records": received,
        "pages": pages,
        "seconds": seconds,
        "pages_per_second": pages / seconds,
        "rss_before_mib": before / 1024,
        "rss_peak_mib": peak / 1024,
    }
    assert received >= args.backfill, fill
    print(f"[{args.backend}] backfill: {fill}", flush=True)
    drop(args.backend, "bench_dms_views")
    emit({"views": {"pull": pull, "write": write, "backfill": fill}, "backend": args.backend})


if __name__ == "__main__":
    main()
