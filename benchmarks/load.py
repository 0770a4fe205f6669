"""Load run: gunicorn (4 workers) serving the example project on PostgreSQL, and 16 devices.

Two topologies (``--topology``), which ``run.py`` runs one after the other:

- ``single``: one gunicorn instance, connected to PostgreSQL directly;
- ``scaleout``: the deployment recipe of docs/scaling.md on one machine: two gunicorn
  instances on two ports (the workers split between them, the devices too), PgBouncer in
  transaction pooling in front of the primary, and a streaming replica (``pg_basebackup
  -R``) that pulls read. PgBouncer and the replica are started here and removed at the end
  (``tests/pgservers.py``, as the replica tests do).

Each simulated device (a thread, talking HTTP to 127.0.0.1 only) loops until the run ends:
push a batch of 100 entries to one of the four domains in turn (80 new records and 20
updates of records it pushed before, at their current version), then pull one page (100)
of that domain from its own cursor. Throttling is set out of reach through the example's
``SYNC_RATE_USER`` / ``SYNC_RATE_DEVICE``; the throttle counters live in Redis, as in
production. The run is bounded (``--seconds``, default 60, after a short warm-up) and the
server is stopped at the end, whatever happens.

Reported: accepted items/s (created + updated), pulled items/s, requests/s, latency
percentiles of pushes and of pulls, and errors (HTTP errors, exceptions, per-item errors and
conflicts: all must be 0).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.pgservers import Bouncer, Primary, Standby, check_prerequisites, workdir

from benchmarks.common import PG_URL, ROOT, emit, machine_busy_seconds, pg_admin

EXAMPLE = ROOT / "example_project"
DB = "bench_dms_load"
DOMAINS = ["activity", "work-orders", "attendance", "helpdesk"]
#: Their tables in the example project.
SYNCED_TABLES = (
    "field_ops_task",
    "field_ops_workorder",
    "field_ops_attendance",
    "field_ops_ticket",
)
BATCH, NEW, PAGE = 100, 80, 100

USERS_SCRIPT = """
import json
from field_ops.tenants import ensure_user
tokens = [ensure_user(f"loaddev{{i}}", f"Load client {{i % 2}}", f"Site {{i % 4}}")[1]
          for i in range({devices})]
print("TOKENS " + json.dumps(tokens))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def example_env() -> dict[str, str]:
    base = PG_URL.rsplit("/", 1)[0]
    env = {key: value for key, value in os.environ.items() if key != "PULL_DATABASE_URL"}
    return {
        **env,
        "DATABASE_URL": f"{base}/{DB}",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        "SYNC_RATE_USER": "1000000/s",
        "SYNC_RATE_DEVICE": "1000000/s",
        "CONN_MAX_AGE": "600",
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": "benchmark-load-run-" + uuid.uuid4().hex,
        "PYTHONPATH": os.pathsep.join(
            p for p in (os.environ.get("BENCH_LIBRARY_SRC"), os.environ.get("PYTHONPATH")) if p
        ),
    }


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def entry(domain: str, n: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    start = (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    end = (now + timedelta(hours=5)).isoformat().replace("+00:00", "Z")
    body: dict[str, Any] = {"mobile_id": str(uuid.uuid4()), "version": 0}
    if domain == "activity":
        body.update(
            jobdesc=f"Inspect pump {n}",
            plandatetime=start,
            expirydatetime=end,
            gracetime=15,
            priority="MEDIUM",
            jobstatus="ASSIGNED",
            jobtype="SCHEDULE",
            latitude=12.97,
            longitude=77.59,
        )
    elif domain == "work-orders":
        body.update(
            description=f"Replace filter {n}",
            status="draft",
            priority="HIGH",
            scheduled_start=start,
            scheduled_end=end,
        )
    elif domain == "attendance":
        body.update(
            event="CHECKIN",
            punched_at=now.isoformat().replace("+00:00", "Z"),
            latitude=12.97,
            longitude=77.59,
            transport_mode="BIKE",
        )
    else:
        body.update(ticketdesc=f"Lift {n} is noisy", status="NEW", priority="LOW")
    return body


def edit(domain: str, n: int) -> dict[str, Any]:
    """The change an update entry of push ``n`` makes."""
    if domain == "attendance":
        return {"transport_mode": ("WALK", "BUS")[n % 2]}
    field = {"activity": "jobdesc", "work-orders": "description", "helpdesk": "ticketdesc"}
    return {field[domain]: f"Edited in push {n}"}


class Device(threading.Thread):
    def __init__(self, index: int, token: str, port: int, stats: Stats) -> None:
        super().__init__(daemon=True)
        self.index, self.token, self.port, self.stats = index, token, port, stats
        self.device_id = f"load-device-{index}"
        self.known: dict[str, dict[str, int]] = {d: {} for d in DOMAINS}  # mobile_id: version
        self.cursors: dict[str, str | None] = dict.fromkeys(DOMAINS)
        self.stop_at = 0.0
        self.counting = threading.Event()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "X-Device-Id": self.device_id,
            "Content-Type": "application/json",
        }
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        finally:
            conn.close()

    def push(self, domain: str, n: int) -> None:
        known = self.known[domain]
        updates = list(known.items())[-(BATCH - NEW) :]
        entries = [entry(domain, n + i) for i in range(BATCH - len(updates))]
        entries += [{"mobile_id": m, "version": v, **edit(domain, n)} for m, v in updates]
        body = json.dumps({"entries": entries, "client_id": self.device_id}).encode()
        started = time.perf_counter()
        status, data = self.request("POST", f"/api/v1/sync/{domain}/sync/", body)
        elapsed = time.perf_counter() - started
        accepted = bad = 0
        if status == 200:
            for item in data["synced_items"]:
                if item["status"] in ("created", "updated"):
                    accepted += 1
                known[item["mobile_id"]] = item["server_version"]
            bad = len(data["conflicts"]) + len(data["errors"])
            if bad and not self.stats.first_error:
                self.stats.first_error = json.dumps((data["conflicts"] + data["errors"])[:2])
        elif not self.stats.first_error:
            self.stats.first_error = f"push {status}: {str(data)[:300]}"
        while len(known) > 400:  # keep the recent records only
            known.pop(next(iter(known)))
        if self.counting.is_set():
            self.stats.record("push", elapsed, status, accepted, bad)

    def pull(self, domain: str) -> None:
        cursor = self.cursors[domain]
        query = f"?limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
        started = time.perf_counter()
        status, data = self.request("GET", f"/api/v1/sync/{domain}/changes/{query}")
        elapsed = time.perf_counter() - started
        items = 0
        if status == 200:
            self.cursors[domain] = data["next_cursor"]
            items = len(data["items"])
        elif not self.stats.first_error:
            self.stats.first_error = f"pull {status}: {str(data)[:300]}"
        if self.counting.is_set():
            self.stats.record("pull", elapsed, status, items, 0)

    def run(self) -> None:
        n = 0
        while time.monotonic() < self.stop_at:
            domain = DOMAINS[(self.index + n) % len(DOMAINS)]
            try:
                self.push(domain, n)
                self.pull(domain)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                if self.counting.is_set():
                    self.stats.record("push", 0.0, 0, 0, 0, exception=True)
                if not self.stats.first_error:
                    self.stats.first_error = repr(exc)
            n += 1


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {"push": [], "pull": []}
        self.items = {"push": 0, "pull": 0}
        self.http_errors = self.item_errors = self.exceptions = 0
        self.first_error = ""

    def record(
        self, kind: str, elapsed: float, status: int, items: int, bad: int, exception: bool = False
    ) -> None:
        with self.lock:
            if exception:
                self.exceptions += 1
                return
            self.latency[kind].append(elapsed)
            self.items[kind] += items
            self.item_errors += bad
            if status != 200:
                self.http_errors += 1


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def workers_of(server: subprocess.Popen[bytes]) -> list[int]:
    path = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def wait_healthy(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the example project did not answer /health/ in time")


def start_gunicorn(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    return subprocess.Popen(
        [
            gunicorn,
            "example.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=EXAMPLE,
        env=env,
        start_new_session=True,
    )


def stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


class Unavailable(Exception):
    """The scaled-out topology cannot run on this machine (the message says why)."""


def scale_out(env: dict[str, str], stack: contextlib.ExitStack) -> tuple[dict[str, str], Standby]:
    """Start PgBouncer and a streaming replica of the benchmark's database; the example's
    environment for them (docs/scaling.md, "A deployment recipe")."""
    parts = PG_URL.split("://", 1)[1].rsplit("/", 1)[0]
    user, _, hostport = parts.rpartition("@")
    host, _, port = hostport.partition(":")
    primary = Primary(host or "127.0.0.1", int(port or 5432), user or "postgres", DB)
    try:
        check_prerequisites(primary)
    except pytest.skip.Exception as exc:  # what the tests skip on, the benchmark reports
        raise Unavailable(str(exc)) from None
    directory = workdir("dms-bench-servers")
    stack.callback(lambda: subprocess.run(["rm", "-rf", str(directory)], check=False))
    standby = Standby(primary, directory, "standby")
    stack.callback(standby.stop)
    standby.create()
    bouncer = Bouncer(primary, directory)
    stack.callback(bouncer.stop)
    bouncer.start()
    user_part = f"{primary.user}@" if primary.user else ""
    return {
        **env,
        "DATABASE_URL": f"postgres://{user_part}127.0.0.1:{bouncer.port}/{DB}",
        "PULL_DATABASE_URL": f"postgres://{user_part}127.0.0.1:{standby.port}/{DB}",
        "PGBOUNCER": "1",
    }, standby


def pages_on(standby: Standby | None) -> int:
    """Scans of the synced tables the replica has run: one per pull page it served."""
    if standby is None:
        return 0
    [(count,)] = standby.sql(
        "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) "
        "FROM pg_stat_user_tables WHERE relname = ANY(%s)",
        [list(SYNCED_TABLES)],
    )
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--devices", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers in all")
    parser.add_argument("--topology", choices=["single", "scaleout"], default="single")
    parser.add_argument("--servers", type=int, default=2, help="gunicorn instances (scaleout)")
    args = parser.parse_args()

    pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    pg_admin(f'CREATE DATABASE "{DB}"')
    env = example_env()
    manage("migrate", "--noinput", env=env)
    out = manage("shell", "-c", USERS_SCRIPT.format(devices=args.devices), env=env)
    tokens = json.loads(out.split("TOKENS ", 1)[1])
    groups = args.servers if args.topology == "scaleout" else 1
    with contextlib.ExitStack() as stack:
        standby = None
        if args.topology == "scaleout":
            try:
                env, standby = scale_out(env, stack)
            except Unavailable as exc:
                pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
                print(f"[load scaleout] not run: {exc}", flush=True)
                emit({"load": None, "unavailable": str(exc)})
                return
        ports = [free_port() for _ in range(groups)]
        servers = [start_gunicorn(p, max(1, args.workers // groups), env) for p in ports]
        for server in servers:
            stack.callback(stop, server)
        for port, server in zip(ports, servers, strict=True):
            wait_healthy(port, server)
        stats = Stats()
        devices = [Device(i, tokens[i], ports[i % groups], stats) for i in range(args.devices)]
        started = time.monotonic()
        for device in devices:
            device.stop_at = started + args.warmup + args.seconds
            device.start()
        time.sleep(args.warmup)
        workers = [pid for server in servers for pid in workers_of(server)]
        cpu_before = (cpu_seconds(workers), cpu_seconds([os.getpid()]), machine_busy_seconds())
        standby_before = pages_on(standby)
        for device in devices:
            device.counting.set()
        measured_from = time.monotonic()
        for device in devices:
            device.join(timeout=args.warmup + args.seconds + 60)
        duration = time.monotonic() - measured_from
        standby_pages = pages_on(standby) - standby_before
        busy, total = machine_busy_seconds()
        cpu = {
            "cpus": os.cpu_count(),
            "machine_busy": (busy - cpu_before[2][0]) / duration,
            "machine_idle": ((total - cpu_before[2][1]) - (busy - cpu_before[2][0])) / duration,
            "gunicorn_workers": (cpu_seconds(workers) - cpu_before[0]) / duration,
            "load_client": (cpu_seconds([os.getpid()]) - cpu_before[1]) / duration,
        }
    everything = stats.latency["push"] + stats.latency["pull"]
    result = {
        "topology": args.topology,
        "servers": groups,
        "seconds": duration,
        "devices": args.devices,
        "workers": args.workers,
        "batch": BATCH,
        "pushes": len(stats.latency["push"]),
        "pulls": len(stats.latency["pull"]),
        "pulls_per_s": len(stats.latency["pull"]) / duration,
        "pull_pages_on_replica": standby_pages if standby is not None else None,
        "items_per_s": stats.items["push"] / duration,
        "pulled_items_per_s": stats.items["pull"] / duration,
        "requests_per_s": len(everything) / duration,
        "errors": stats.http_errors + stats.item_errors + stats.exceptions,
        "http_errors": stats.http_errors,
        "item_errors": stats.item_errors,
        "exceptions": stats.exceptions,
        "first_error": stats.first_error,
        "cpu": cpu,
        "latency": {
            kind: {f"p{q}": percentile(values, q) for q in (50, 95, 99)}
            for kind, values in (
                ("push", stats.latency["push"]),
                ("pull", stats.latency["pull"]),
                ("all", everything),
            )
        },
    }
    print(
        f"[load {args.topology}] {result['items_per_s']:.0f} items/s pushed, "
        f"{result['pushes']} pushes, {result['pulls']} pulls "
        f"({result['pulls_per_s']:.1f}/s), p50/p95/p99 all "
        + "/".join(f"{result['latency']['all'][f'p{q}'] * 1000:.0f}" for q in (50, 95, 99))
        + f" ms, errors {result['errors']}"
        + (f", pull pages on the replica {standby_pages}" if standby is not None else ""),
        flush=True,
    )
    pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    emit({"load": result})


if __name__ == "__main__":
    main()
