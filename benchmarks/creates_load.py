"""Push load run: one user's 16 devices pushing batches of 100 new tasks, against the per-item
view, on the example project under gunicorn (2 sync workers) on PostgreSQL.

The load of issue 23: every device (a thread, HTTP to 127.0.0.1) of one user loops, posting
100 new ``activity`` tasks per request, without ``Idempotency-Key``, for ``--seconds`` after
a short warm-up; first to the library's push (``/api/v1/sync/activity/sync/``), then to the
seed-style per-item DRF view of the same records (``benchmarks/load_baseline.py``), served
by the same gunicorn. The throttles stay in the stack with their rates out of reach, their
counters in the database (the example's default without ``REDIS_URL``; ``--store cache``
puts them in Redis).

Reported per contender: created items/s and latency percentiles of the requests that ended
within the run, errors (HTTP errors, exceptions, per-item errors and conflicts: all must be
0), the CPU of the gunicorn workers and of the machine; and the ratio of the library's
items/s to the per-item view's.

Usage: ``python -m benchmarks.creates_load --seconds 20``; prints one ``BENCH-RESULT`` line.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import threading
import time
from typing import Any

from benchmarks.common import DB_SUFFIX, ROOT, emit, machine_busy_seconds, pg_admin
from benchmarks.load import (
    Stats,
    cpu_seconds,
    entry,
    example_env,
    free_port,
    manage,
    percentile,
    start_gunicorn,
    stop,
    wait_healthy,
    workers_of,
)

DB = "bench_dms_creates" + DB_SUFFIX
BATCH = 100
URLS = {"library": "/api/v1/sync/activity/sync/", "per_item": "/baseline/activity/sync/"}
USER_SCRIPT = """
from field_ops.tenants import ensure_user
print("TOKEN " + ensure_user("loaduser", "Load client", "Site 1")[1])
"""


class Device(threading.Thread):
    """One device of the user: pushes ``BATCH`` new tasks per request until ``stop_at``."""

    def __init__(self, index: int, token: str, port: int, url: str, stats: Stats) -> None:
        super().__init__(daemon=True)
        self.index, self.token, self.port, self.url, self.stats = index, token, port, url, stats
        self.device_id = f"creates-device-{index}"
        self.stop_at = 0.0
        self.counting = threading.Event()

    def push(self, n: int) -> None:
        entries = [entry("activity", n * BATCH + i) for i in range(BATCH)]
        body = json.dumps({"entries": entries, "client_id": self.device_id}).encode()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "X-Device-Id": self.device_id,
            "Content-Type": "application/json",
        }
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        started = time.perf_counter()
        try:
            conn.request("POST", self.url, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        created = bad = 0
        if response.status == 200:
            answer = json.loads(data)
            created = sum(1 for i in answer["synced_items"] if i["status"] == "created")
            bad = len(answer["conflicts"]) + len(answer["errors"]) + (BATCH - created)
            if bad and not self.stats.first_error:
                self.stats.first_error = json.dumps((answer["conflicts"] + answer["errors"])[:2])
        elif not self.stats.first_error:
            self.stats.first_error = f"push {response.status}: {data[:300]!r}"
        if self.counting.is_set() and time.monotonic() <= self.stop_at:  # within the run
            self.stats.record("push", elapsed, response.status, created, bad)

    def run(self) -> None:
        n = 0
        while time.monotonic() < self.stop_at:
            try:
                self.push(n)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                if self.counting.is_set():
                    self.stats.record("push", 0.0, 0, 0, 0, exception=True)
                if not self.stats.first_error:
                    self.stats.first_error = repr(exc)
            n += 1


def phase(
    url: str, token: str, port: int, workers: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    """``args.devices`` devices pushing to ``url`` for ``args.seconds`` after the warm-up."""
    stats = Stats()
    devices = [Device(i, token, port, url, stats) for i in range(args.devices)]
    started = time.monotonic()
    for device in devices:
        device.stop_at = started + args.warmup + args.seconds
        device.start()
    time.sleep(args.warmup)
    before = cpu_seconds(workers), machine_busy_seconds()
    for device in devices:
        device.counting.set()
    measured_from = time.monotonic()
    time.sleep(max(started + args.warmup + args.seconds - time.monotonic(), 0))
    duration = time.monotonic() - measured_from
    busy, total = machine_busy_seconds()
    cpu = (cpu_seconds(workers) - before[0]) / duration
    for device in devices:  # the requests still running when the run ended do not count
        device.join(timeout=120)
    latency = stats.latency["push"]
    return {
        "seconds": duration,
        "pushes": len(latency),
        "items_per_s": stats.items["push"] / duration,
        "errors": stats.http_errors + stats.item_errors + stats.exceptions,
        "http_errors": stats.http_errors,
        "item_errors": stats.item_errors,
        "exceptions": stats.exceptions,
        "first_error": stats.first_error,
        "latency": {f"p{q}": percentile(latency, q) for q in (50, 95, 99)},
        "cpu": {
            "gunicorn_workers": cpu,
            "machine_busy": (busy - before[1][0]) / duration,
            "machine_total": (total - before[1][1]) / duration,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--devices", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--store", choices=["database", "cache"], default="database")
    parser.add_argument("--contenders", default="library,per_item")
    args = parser.parse_args()

    pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    pg_admin(f'CREATE DATABASE "{DB}"')
    env = example_env()
    env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{DB}"
    env["DJANGO_SETTINGS_MODULE"] = "benchmarks.load_settings"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    if args.store == "database":
        env.pop("REDIS_URL", None)
    manage("migrate", "--noinput", env=env)
    token = manage("shell", "-c", USER_SCRIPT, env=env).split("TOKEN ", 1)[1].strip()
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        port = free_port()
        server = start_gunicorn(port, args.workers, env)
        stack.callback(stop, server)
        wait_healthy(port, server)
        workers = workers_of(server)
        for contender in args.contenders.split(","):
            results[contender] = found = phase(URLS[contender], token, port, workers, args)
            print(
                f"[creates load] {contender}: {found['items_per_s']:.0f} items/s, "
                f"{found['pushes']} pushes, p50/p95/p99 "
                + "/".join(f"{found['latency'][f'p{q}'] * 1000:.0f}" for q in (50, 95, 99))
                + f" ms, errors {found['errors']} {found['first_error'][:200]}",
                flush=True,
            )
    pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    library, per_item = results.get("library"), results.get("per_item")
    ratio = None
    if library and per_item and per_item["items_per_s"]:
        ratio = library["items_per_s"] / per_item["items_per_s"]
        print(f"[creates load] library / per-item view: {ratio:.1f}x", flush=True)
    emit(
        {
            "creates_load": {
                "devices": args.devices,
                "workers": args.workers,
                "batch": BATCH,
                "store": args.store,
                "seconds": args.seconds,
                "contenders": results,
                "ratio": ratio,
            }
        }
    )


if __name__ == "__main__":
    main()
