"""Multi-domain benchmarks (docs/protocol.md): one request for several domains, beside one domain.

- **push**: 1,000 new entries over three domains in one ``POST sync/`` — 200 tasks, 600 steps
  naming those tasks (children listed before their parents) and 200 visits — against 1,000
  new tasks in one ``POST tasks/sync/``, interleaved in each run, through HTTP. Target: the
  multi-domain push takes at most 1.3x the single-domain one.
- **pull**: a page of 100 from ``GET changes/?domains=tasks,steps,visits`` against a page of
  100 from ``GET tasks/changes/``, on tables holding 3,000 tasks, 9,000 steps and 3,000
  visits, both from the middle of the feed, interleaved. Target: at most 1.3x.

Usage: ``python -m benchmarks.multi --backend postgresql --runs 5``; prints one
``BENCH-RESULT`` JSON line.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks.common import drop, emit, make_user, median, new_id, setup, timed

N = 1000
PAGE = 100


class Bench:
    def __init__(self) -> None:
        from rest_framework.test import APIClient

        self.user, token = make_user("multi")
        self.org = self.user.member.org
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content[:500]
        return json.loads(response.content)

    def single_push(self) -> float:
        entries = [
            {"mobile_id": new_id(), "title": f"task {i}", "priority": i % 6} for i in range(N)
        ]
        seconds, body = timed(lambda: self.post("/api/sync/tasks/sync/", {"entries": entries}))
        assert len(body["synced_items"]) == N, body["errors"][:3]
        return seconds

    def multi_push(self) -> float:
        tasks = [new_id() for _ in range(N // 5)]
        domains = {
            "steps": {
                "entries": [
                    {"mobile_id": new_id(), "task": task, "label": f"step {j}", "position": j}
                    for task in tasks
                    for j in range(3)
                ]
            },
            "tasks": {
                "entries": [
                    {"mobile_id": t, "title": f"task {i}", "priority": i % 6}
                    for i, t in enumerate(tasks)
                ]
            },
            "visits": {
                "entries": [{"mobile_id": new_id(), "site": f"site {i}"} for i in range(N // 5)]
            },
        }
        seconds, body = timed(lambda: self.post("/api/sync/sync/", {"domains": domains}))
        answered = sum(len(lists["synced_items"]) for lists in body["domains"].values())
        assert answered == N, [lists["errors"][:3] for lists in body["domains"].values()]
        return seconds

    def middle_cursors(self) -> tuple[str, str]:
        """A cursor in the middle of the tasks feed, and one 50 records before the end of the
        tasks in the three-domain feed: its page reads two domains (tasks, then steps)."""
        from benchmarks.benchapp.models import Task

        tasks = Task.all_objects.filter(org=self.org).count()
        single = self.advance("/api/sync/tasks/changes/", {}, tasks // 2)
        multi = self.advance("/api/sync/changes/", DOMAINS, tasks - PAGE // 2)
        return single, multi

    def advance(self, url: str, params: dict[str, Any], records: int) -> str:
        """The cursor after ``records`` records of a feed."""
        position: str | None = None
        while records > 0:
            limit = min(records, 1000)
            page = self.get(url, {**params, "limit": limit, **cursor(position)})
            records -= limit
            position = page["next_cursor"]
        assert position
        return position

    def get(self, url: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self.api.get(url, params)
        assert response.status_code == 200, response.content[:500]
        return json.loads(response.content)


DOMAINS = {"domains": "tasks,steps,visits"}


def cursor(value: str | None) -> dict[str, str]:
    return {"cursor": value} if value else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="postgresql", choices=["sqlite", "postgresql"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    db = "bench_dms_multi"
    setup(args.backend, db)
    try:
        bench = Bench()
        bench.single_push(), bench.multi_push()  # warm-up
        single, multi = [], []
        for _ in range(args.runs):
            single.append(bench.single_push())
            multi.append(bench.multi_push())
        push = {
            "single_ms": median(single) * 1000,
            "multi_ms": median(multi) * 1000,
            "ratio": median(m / s for m, s in zip(multi, single, strict=True)),
            "ratios": [m / s for m, s in zip(multi, single, strict=True)],
        }
        print(
            f"  [{args.backend}] push: single {push['single_ms']:.1f} ms, "
            f"multi {push['multi_ms']:.1f} ms, ratio {push['ratio']:.2f}x",
            flush=True,
        )
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("VACUUM (ANALYZE)")
        single_cursor, multi_cursor = bench.middle_cursors()
        pages_single, pages_multi = [], []
        for _ in range(args.runs * 4):
            seconds, page = timed(
                lambda: bench.get(
                    "/api/sync/tasks/changes/", {"limit": PAGE, "cursor": single_cursor}
                )
            )
            assert len(page["items"]) == PAGE
            pages_single.append(seconds)
            seconds, page = timed(
                lambda: bench.get(
                    "/api/sync/changes/", {**DOMAINS, "limit": PAGE, "cursor": multi_cursor}
                )
            )
            assert sum(len(items) for items in page["changes"].values()) == PAGE
            pages_multi.append(seconds)
        pull = {
            "single_ms": median(pages_single) * 1000,
            "multi_ms": median(pages_multi) * 1000,
            "ratio": median(m / s for m, s in zip(pages_multi, pages_single, strict=True)),
        }
        print(
            f"  [{args.backend}] pull page: single {pull['single_ms']:.2f} ms, "
            f"multi {pull['multi_ms']:.2f} ms, ratio {pull['ratio']:.2f}x",
            flush=True,
        )
        emit({"backend": args.backend, "push": push, "pull": pull})
    finally:
        drop(args.backend, db)


if __name__ == "__main__":
    main()
