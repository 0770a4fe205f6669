"""Push benchmarks: 1,000 new records, 1,000 updates and 1,000 mixed entries.

Each is pushed by five contenders, interleaved within every run so that a noisy neighbour
slows them all alike (the fast ones, a tenth of the baselines' time, are timed ``--inner``
times per run and the run keeps their median):

- ``service``: ``SyncService.push()``;
- ``http``: the library's push endpoint through the DRF test client;
- ``baseline``: the per-item loop (``benchapp/baseline.py``) called directly;
- ``baseline_http``: the same loop behind the same HTTP stack;
- ``floor``: plain ``QuerySet.bulk_create`` / ``bulk_update`` of the same rows.

Usage: ``python -m benchmarks.push --backend postgresql --runs 5``; prints one
``BENCH-RESULT`` JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import drop, emit, make_user, median, new_id, setup, timed

N = 1000
CONTENDERS = ["service", "http", "baseline", "baseline_http", "floor"]
DUE = "2025-10-01T10:00:00Z"
DUE_VALUE = datetime(2025, 10, 1, 10, 0, tzinfo=UTC)


class Bench:
    def __init__(self) -> None:
        from rest_framework.test import APIClient

        from django_mobile_sync.domains import get_domain

        self.user, token = make_user("bench")
        self.org = self.user.member.org
        self.domain = get_domain("tasks")
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    # -- data ----------------------------------------------------------------------------
    def seed(self, n: int, stale: int = 0) -> list[Any]:
        """``n`` existing tasks at version 1; the first ``stale`` are moved to version 2."""
        from benchmarks.benchapp.models import Task

        tasks = Task.all_objects.bulk_create(
            Task(org=self.org, title=f"seeded {i}", priority=i % 6) for i in range(n)
        )
        if stale:
            ids = [t.pk for t in tasks[:stale]]
            Task.all_objects.filter(pk__in=ids).update(notes="changed on the server")
        return tasks

    @staticmethod
    def new_entry(i: int, invalid: bool = False) -> dict[str, Any]:
        return {
            "mobile_id": new_id(),
            "version": 0,
            "title": f"new task {i}",
            "status": "todo",
            "priority": 99 if invalid else i % 6,
            "notes": "created offline",
            "due_at": DUE,
        }

    @staticmethod
    def update_entry(task: Any, i: int, invalid: bool = False) -> dict[str, Any]:
        return {
            "mobile_id": str(task.mobile_id),
            "version": 1,
            "title": f"{task.title} (edited)",
            "status": "doing",
            "priority": 99 if invalid else (i + 1) % 6,
        }

    def scenario(self, name: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """The entries of one run of ``name`` and the statuses they must produce."""
        if name == "new":
            return [self.new_entry(i) for i in range(N)], {"created": N}
        if name == "updates":
            return [self.update_entry(t, i) for i, t in enumerate(self.seed(N))], {"updated": N}
        # mixed: half new, half updates; 5% stale (conflicts), 1% invalid (errors)
        half, stale, bad = N // 2, N // 20, N // 200
        tasks = self.seed(half, stale=stale)
        entries = [self.new_entry(i, invalid=i < bad) for i in range(half)]
        entries += [
            self.update_entry(t, i, invalid=stale <= i < stale + bad) for i, t in enumerate(tasks)
        ]
        random.Random(len(entries)).shuffle(entries)
        expected = {
            "created": half - bad,
            "updated": half - stale - bad,
            "conflict": stale,
            "error": 2 * bad,
        }
        return entries, expected

    # -- contenders ------------------------------------------------------------------------
    def run(self, contender: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return getattr(self, contender)(entries)

    def service(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        from django_mobile_sync.service import SyncService

        service = SyncService(
            self.domain, user=self.user, scope={"org": self.org}, device_id="bench-device"
        )
        return service.push(entries).as_dict()

    def _post(self, url: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        body = json.dumps({"entries": entries, "client_id": "bench-device"})
        response = self.api.post(url, body, content_type="application/json")
        assert response.status_code == 200, response.content[:500]
        return json.loads(response.content)

    def http(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return self._post("/api/sync/tasks/sync/", entries)

    def baseline(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        from benchmarks.benchapp.baseline import per_item_push

        return per_item_push(entries, self.org, self.user, "bench-device")

    def baseline_http(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return self._post("/baseline/tasks/sync/", entries)

    def floor(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Plain ORM: bulk_create the valid new rows, bulk_update the valid updates.

        Validation is skipped (the invalid entries are known in advance); values arrive
        typed. Stamps are written as plain values, like the library writes them, and the
        rows get the library's history entry (the values changed), so that the floor writes
        the same rows.
        """
        import uuid

        from django.db import models, transaction
        from django.utils import timezone

        from benchmarks.benchapp.models import Task

        def ok(entry: dict[str, Any]) -> bool:
            return entry["priority"] != 99

        new = [e for e in entries if e["version"] == 0 and ok(e)]
        changes = {uuid.UUID(e["mobile_id"]): e for e in entries if e["version"] and ok(e)}
        plain = models.QuerySet(Task)
        now = timezone.now()
        with transaction.atomic():
            plain.bulk_create(
                [
                    Task(
                        org=self.org,
                        mobile_id=uuid.UUID(e["mobile_id"]),
                        title=e["title"],
                        status=e["status"],
                        priority=e["priority"],
                        notes=e["notes"],
                        due_at=DUE_VALUE,
                        history=[history_entry(now, 1, self.user, e)],
                        version=1,
                        created_at=now,
                        updated_at=now,
                        change_seq=1,
                    )
                    for e in new
                ]
            )
            if changes:
                rows = list(plain.filter(org=self.org, mobile_id__in=list(changes)))
                rows = [r for r in rows if r.version == 1]  # the stale ones conflict
                for row in rows:
                    entry = changes[row.mobile_id]
                    row.title, row.status = entry["title"], entry["status"]
                    row.priority = entry["priority"]
                    changed = {k: entry[k] for k in ("title", "status", "priority")}
                    row.history = [*row.history, history_entry(now, 2, self.user, changed)]
                    row.version, row.updated_at, row.change_seq = 2, now, 2
                plain.bulk_update(
                    rows,
                    [
                        "title",
                        "status",
                        "priority",
                        "history",
                        "version",
                        "updated_at",
                        "change_seq",
                    ],
                )
        return {"synced_items": [], "conflicts": [], "errors": []}


def history_entry(now: datetime, version: int, user: Any, values: dict[str, Any]) -> dict:
    """The history entry the library appends (see "History" in docs/domains.md)."""
    fields = ("title", "status", "priority", "notes", "due_at")
    return {
        "at": now.isoformat(),
        "version": version,
        "user": str(user.pk),
        "device": "bench-device",
        "changes": {k: values[k] for k in fields if k in values},
    }


def steady_state(bench: Bench) -> None:
    """Start from a table of 20,000 rows, vacuumed and analyzed, without autovacuum.

    From an empty table, the first runs raced autovacuum and autoanalyze passes triggered
    by the table's growth (slowing the bulk contenders by up to 1.7x in some runs); the
    planner's statistics are taken once, on a table of a realistic size.
    """
    from django.db import connection

    from benchmarks.common import generate_tasks

    generate_tasks(bench.org, 20_000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE benchapp_task SET (autovacuum_enabled = false)")


def statuses(body: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in ("synced_items", "conflicts", "errors"):
        for item in body[key]:
            counts[item["status"]] = counts.get(item["status"], 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenarios", default="new,updates,mixed")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--inner", type=int, default=3, help="timings per run, fast contenders")
    args = parser.parse_args()
    setup(args.backend, "bench_dms_push")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    bench = Bench()
    steady_state(bench)
    contenders = args.contenders.split(",")
    results: dict[str, Any] = {}
    for scenario in args.scenarios.split(","):
        times: dict[str, list[float]] = {c: [] for c in contenders}
        queries: dict[str, int] = {}
        for run in range(args.runs + 1):  # run 0 warms up and checks the answers
            order = contenders[run % len(contenders) :] + contenders[: run % len(contenders)]
            for contender in order:
                if run == 0:
                    entries, expected = bench.scenario(scenario)
                    connection.queries_log.clear()
                    with CaptureQueriesContext(connection) as ctx:
                        body = bench.run(contender, entries)
                    queries[contender] = len(ctx)
                    if contender != "floor" and statuses(body) != expected:
                        raise AssertionError(
                            f"{contender}/{scenario}: {statuses(body)} != {expected}"
                        )
                    continue
                # The fast contenders take a tenth of the baselines' time: time them a few
                # times (fresh data each time) and keep the run's median, so that a burst of
                # other work on the machine does not decide their figure.
                samples = []
                for _ in range(1 if contender.startswith("baseline") else args.inner):
                    entries, _expected = bench.scenario(scenario)
                    seconds, _ = timed(lambda c=contender, e=entries: bench.run(c, e))
                    samples.append(seconds)
                times[contender].append(median(samples))
        results[scenario] = {
            c: {"median": median(times[c]), "samples": times[c], "queries": queries[c]}
            for c in contenders
        }
        line = "  ".join(f"{c}={median(times[c]) * 1000:.1f}ms" for c in contenders)
        print(f"[{args.backend}] push {scenario}: {line}", flush=True)
    drop(args.backend, "bench_dms_push")
    emit({"push": results, "backend": args.backend, "runs": args.runs})


if __name__ == "__main__":
    main()
