"""Where one push request of 100 new records spends its time, in-process, over HTTP.

A device's request through the DRF test client (token auth, the push throttles counting in
the database store, the scope, the push, the JSON answer), repeated ``--requests`` times:
every SQL statement is timed by a ``connection.execute_wrapper`` and filed under what it is
for (psycopg sends ``BEGIN`` just before the transaction's first statement, the change
clock's, and is timed with it; ``COMMIT`` is timed apart); the rest of the request is
Python. Then ``--profile`` requests run under cProfile and the functions that took the
most time are listed.

Usage: ``python -m benchmarks.profile_push --backend postgresql``; prints one
``BENCH-RESULT`` JSON line (milliseconds per request, statements per request).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from benchmarks.common import drop, emit, make_user, new_id, setup

#: What a statement is for, from its text: the first pattern it contains names it.
KINDS = [
    ("authtoken_token", "token auth"),
    ("throttlecounter", "throttle counters"),
    ("benchapp_member", "scope"),
    ("benchapp_org", "scope"),
    ("pg_current_xact_id", "change clock"),
    ("changeclock", "change clock"),
    ("SAVEPOINT", "savepoints"),
    ("syncbatch", "batch log"),
    ("INSERT INTO", "insert rows"),
    ("FOR UPDATE", "lock existing"),
    ('FROM "benchapp_task"', "lock existing"),
    ("BEGIN", "begin/commit"),
    ("COMMIT", "begin/commit"),
]


def kind_of(sql: str) -> str:
    for pattern, kind in KINDS:
        if pattern in sql:
            return kind
    return "other: " + sql[:60]


class Timer:
    """Times every statement of the connection, by kind."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)

    def __call__(self, execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, *args)
        finally:
            kind = kind_of(str(sql))
            self.seconds[kind] += time.perf_counter() - started
            self.count[kind] += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="postgresql")
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", type=int, default=100, help="requests under cProfile")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    setup(args.backend, "bench_dms_profile")
    from django.db import connection
    from django.test import override_settings
    from rest_framework.test import APIClient

    from django_mobile_sync.conf import sync_settings

    rates = {"user": "1000000/s", "device": "1000000/s", "pull_user": None, "pull_device": None}
    mobile_sync = {**sync_settings.user_settings, "THROTTLE_RATES": rates}
    _user, token = make_user("profile")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    def one_push() -> None:
        entries = [
            {"mobile_id": new_id(), "version": 0, "title": f"task {i}", "priority": i % 6}
            for i in range(args.entries)
        ]
        body = json.dumps({"entries": entries, "client_id": "profile-device"})
        response = api.post("/api/sync/tasks/sync/", body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]

    with override_settings(MOBILE_SYNC=mobile_sync):
        for _ in range(20):
            one_push()
        timer = Timer()
        commit = connection._commit

        def timed_commit() -> None:  # COMMIT does not go through execute_wrapper
            started = time.perf_counter()
            try:
                commit()
            finally:
                timer.seconds["commit"] += time.perf_counter() - started
                timer.count["commit"] += 1

        connection._commit = timed_commit  # type: ignore[method-assign]
        started = time.perf_counter()
        with connection.execute_wrapper(timer):
            for _ in range(args.requests):
                one_push()
        total = (time.perf_counter() - started) / args.requests
        connection._commit = commit  # type: ignore[method-assign]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.profile):
            one_push()
        profiler.disable()
        if os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(os.environ["PROFILE_DUMP"])

    per_request = {k: v / args.requests * 1000 for k, v in sorted(timer.seconds.items())}
    statements = {k: v / args.requests for k, v in sorted(timer.count.items())}
    sql_ms = sum(per_request.values())
    print(f"[{args.backend}] one push of {args.entries} new: {total * 1000:.2f} ms per request")
    for kind, ms in per_request.items():
        print(f"  {kind:<20} {ms:6.2f} ms  {statements[kind]:.0f} statement(s)")
    print(f"  {'Python (the rest)':<20} {total * 1000 - sql_ms:6.2f} ms")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    drop(args.backend, "bench_dms_profile")
    emit(
        {
            "profile_push": {
                "backend": args.backend,
                "entries": args.entries,
                "request_ms": total * 1000,
                "sql_ms": per_request,
                "statements": statements,
                "python_ms": total * 1000 - sql_ms,
            }
        }
    )


if __name__ == "__main__":
    main()
