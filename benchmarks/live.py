"""Live streams (docs/live.md): the example served as ``make example`` serves it (gunicorn with
two uvicorn workers), per back end (``poll``, ``redis``, and ``postgres`` on PostgreSQL):

- commit-to-poke latency, p50 and p99, at ``--rate`` commits/s (default 100) while
  ``--latency-streams`` streams listen: from the start of each push to the first poke after
  it, on every stream, the push's own time included (goal: p99 < 500 ms);
- the memory (RSS) and CPU of the server's processes holding ``--streams`` idle streams
  (default 1,000), against none;
- push and pull throughput (items/s of 4 devices pushing 20 entries and pulling a page in a
  loop) with those streams open, against none, in the same run (goal: >= 0.9x).

What "idle" means, and why the measure is fair (docs/live.md#holding-a-thousand-streams):

- The idle streams are users of other tenants (``IDLE_PER_TENANT`` users of 10 streams
  each per tenant): held, never poked. Streams of the pushing tenant are poked at every
  read of the detector, and their devices would pull: load of its own, not the cost of
  holding streams. ``--poked`` opens them in the pushing tenant instead, to measure that.
- They are held by a process of their own (``benchmarks/live_streams.py``): read by the
  load generator's process, 1,000 sockets took its CPU and GIL from the devices it drives.
- Each throughput run starts with the devices pulled to the end (untimed) and fresh
  planner statistics (``ANALYZE``, as autovacuum keeps them; this machine's PostgreSQL runs
  without it). ``--rounds`` runs with streams (default 5) alternate with runs without; each
  is compared with the mean of the runs without just before and after it, and the ratio
  is the median of those, so neither the order nor the table's growth decides it.

Every request goes to 127.0.0.1; every loop is bounded in time and the server is stopped at
the end, whatever happens. ``--quick`` is a smoke run of a few seconds per measure. The
machine is shared with the server and the database: compare ratios from one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import PG_URL, ROOT, emit, pg_admin
from benchmarks.live_streams import IdleStreams

EXAMPLE = ROOT / "example_project"

DB = "bench_dms_live"
PREFIX = "/api/v1/sync/"
TENANT = ("Live bench", "Site 1")
#: Idle streams belong to users of other tenants, IDLE_PER_TENANT users each.
IDLE_TENANT = "Live bench idle {}"
IDLE_PER_TENANT = 10
USERS_SCRIPT = """
import json
from field_ops.tenants import ensure_user
tokens = [ensure_user(f"live{{i}}", {client!r}, {bu!r})[1] for i in range({count})]
idle = [ensure_user(f"idle{{i}}", {idle_tenant!r}.format(i // {per_tenant}), "Site")[1]
        for i in range({idle})]
print("TOKENS " + json.dumps([tokens, idle]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    """A new record of ``domain`` (work-orders or helpdesk)."""
    body: dict[str, Any] = {"mobile_id": str(uuid.uuid4()), "version": 0}
    if domain == "work-orders":
        return {**body, "description": f"Replace filter {n}", "priority": "HIGH"}
    return {**body, "ticketdesc": f"Lift {n} is noisy", "status": "NEW", "priority": "LOW"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Server:
    """The example under gunicorn's uvicorn workers on a fresh database of its own."""

    def __init__(self, database: str, backend: str, workdir: Path) -> None:
        self.port = free_port()
        if database == "postgresql":
            pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            pg_admin(f'CREATE DATABASE "{DB}"')
            url = PG_URL.rsplit("/", 1)[0] + f"/{DB}"
        else:
            path = workdir / f"{DB}.sqlite3"
            path.unlink(missing_ok=True)
            url = f"sqlite:///{path}"
        self.database = database
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "TEST_DB_SUFFIX"}},
            "DATABASE_URL": url,
            "SYNC_LIVE_BACKEND": backend,
            "SYNC_RATE_USER": "1000000/s",
            "SYNC_RATE_DEVICE": "1000000/s",
            "DEBUG": "0",
            "SECRET_KEY": "benchmark-live-" + uuid.uuid4().hex,
        }
        if backend == "redis":
            self.env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
        if backend != "poll":
            self.env["SYNC_LIVE_SAFETY_INTERVAL"] = "5"
        self.log = workdir / f"live-{backend}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, users: int, idle: int) -> tuple[list[str], list[str]]:
        """Serve; the tokens of ``users`` users of the benchmark's tenant, and of ``idle``
        users of other tenants."""
        manage("migrate", "--noinput", env=self.env)
        script = USERS_SCRIPT.format(
            client=TENANT[0],
            bu=TENANT[1],
            count=users,
            idle_tenant=IDLE_TENANT,
            per_tenant=IDLE_PER_TENANT,
            idle=idle,
        )
        output = manage("shell", "-c", script, env=self.env)
        tokens, idle_tokens = json.loads(output.split("TOKENS ", 1)[1])
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "example.asgi:application",
                "--worker-class",
                "uvicorn_worker.UvicornWorker",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=EXAMPLE,
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if self.request("GET", "/health/", None, "")[0] == 200:
                    return tokens, idle_tokens
            time.sleep(0.3)
        raise RuntimeError(f"the server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.database == "postgresql":
            pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')

    def analyze(self) -> None:
        """Fresh planner statistics, as autovacuum keeps them in production. This machine's
        PostgreSQL runs with autovacuum off: tables grown by tens of thousands of rows
        without statistics made the push's lookup by ``mobile_id`` read the tenant's whole
        table through the pull index, slower at every run (docs/benchmarks.md#live-streams)."""
        if self.database == "postgresql":
            import psycopg

            with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
                conn.execute("ANALYZE")
        else:
            import sqlite3

            with contextlib.closing(sqlite3.connect(self.env["DATABASE_URL"][10:])) as conn:
                conn.execute("ANALYZE")

    def request(self, method: str, path: str, body: Any, token: str) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            data = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            connection.close()

    def processes(self) -> list[int]:
        """The master and its workers."""
        assert self.process is not None
        pids = [self.process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    pids.append(int(stat.parent.name))
        return pids

    def usage(self) -> tuple[float, float]:
        """RSS (MiB) and CPU seconds of the server's processes."""
        rss = cpu = 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        for pid in self.processes():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / ticks
                rss += int(fields[21]) * resource.getpagesize() / 2**20
        return rss, cpu


class Streams:
    """Open streams on an event loop of their own; the arrival times of their pokes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.pokes: list[list[float]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.ready = 0

    def open(self, tokens: list[str], count: int, timeout: float = 120) -> None:
        async def open_all() -> None:
            for i in range(count):
                index = len(self.pokes)
                self.pokes.append([])
                self.tasks.append(asyncio.create_task(self.hold(tokens[i % len(tokens)], index)))
                if i % 50 == 49:
                    await asyncio.sleep(0.05)

        asyncio.run_coroutine_threadsafe(open_all(), self.loop).result(timeout)
        deadline = time.monotonic() + timeout
        while self.ready < len(self.pokes) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.ready < len(self.pokes):
            raise RuntimeError(f"only {self.ready} of {len(self.pokes)} streams are ready")

    async def hold(self, token: str, index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            f"GET {PREFIX}stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}"
            "\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        try:
            while line := await reader.readline():
                if line.startswith(b"event: ready"):
                    self.ready += 1
                elif line.startswith(b"event: poke"):
                    self.pokes[index].append(time.monotonic())
        finally:
            writer.close()

    def close(self) -> None:
        for task in self.tasks:
            self.loop.call_soon_threadsafe(task.cancel)
        time.sleep(0.5)
        self.loop.call_soon_threadsafe(self.loop.stop)


def commit_to_poke(
    server: Server, tokens: list[str], streams: int, rate: float, seconds: float
) -> dict[str, Any]:
    """Pushes at ``rate`` for ``seconds``; latency from the start of each push to the first
    poke after it on every stream."""
    listening = Streams(server.port)
    listening.open(tokens[:streams], streams)
    commits: list[tuple[float, float]] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        began = time.monotonic()
        status, _ = server.request(
            "POST",
            f"{PREFIX}work-orders/sync/",
            {"entries": [entry("work-orders", n)]},
            tokens[-1],
        )
        if status == 200:
            with lock:
                commits.append((began, time.monotonic()))

    threads: list[threading.Thread] = []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        thread = threading.Thread(target=one, args=(n,), daemon=True)
        thread.start()
        threads.append(thread)
        n += 1
        time.sleep(max(0.0, started + n / rate - time.monotonic()))
    for thread in threads:
        thread.join(30)
    time.sleep(1.5)
    listening.close()
    latencies = []
    for pokes in listening.pokes:
        for began, _answered in commits:
            after = [p for p in pokes if p >= began]
            if after:
                latencies.append((after[0] - began) * 1000)
    return {
        "commits": len(commits),
        "commits_per_s": round(len(commits) / seconds, 1),
        "streams": streams,
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "unpoked": len(commits) * streams - len(latencies),
    }


def catch_up(server: Server, token: str) -> str:
    """The cursor at the end of the helpdesk changes."""
    cursor = ""
    while True:
        query = f"?limit=1000&cursor={cursor}" if cursor else "?limit=1000"
        status, page = server.request("GET", f"{PREFIX}helpdesk/changes/{query}", None, token)
        if status != 200:
            raise RuntimeError(f"a pull answered {status}: {page}")
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return str(cursor)


def throughput(server: Server, tokens: list[str], seconds: float) -> dict[str, float]:
    """Items/s pushed and pulled by 4 devices in a loop. Each device first pulls to the end
    (untimed), so that the runs compare the same steady state whatever came before."""
    pushed = pulled = 0
    lock = threading.Lock()
    cursors = {token: catch_up(server, token) for token in tokens[:4]}
    server.analyze()
    stop_at = time.monotonic() + seconds

    def device(token: str) -> None:
        nonlocal pushed, pulled
        cursor = cursors[token]
        n = 0
        while time.monotonic() < stop_at:
            body = {"entries": [entry("helpdesk", n + i) for i in range(20)]}
            status, answer = server.request("POST", f"{PREFIX}helpdesk/sync/", body, token)
            query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
            status2, page = server.request("GET", f"{PREFIX}helpdesk/changes/{query}", None, token)
            with lock:
                pushed += len(answer["synced_items"]) if status == 200 else 0
                pulled += len(page["items"]) if status2 == 200 else 0
            cursor = page["next_cursor"] if status2 == 200 else cursor
            n += 20

    threads = [threading.Thread(target=device, args=(t,), daemon=True) for t in tokens[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return {"pushed_per_s": round(pushed / seconds, 1), "pulled_per_s": round(pulled / seconds, 1)}


def run(database: str, backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server = Server(database, backend, workdir)
    try:
        holders = -(-args.streams // 10)  # MAX_STREAMS_PER_USER is 10
        users = max(args.latency_streams, holders if args.poked else 0) + 5
        tokens, idle_tokens = server.start(users, 0 if args.poked else holders)
        result: dict[str, Any] = {
            "latency": commit_to_poke(
                server, tokens, args.latency_streams, args.rate, args.seconds
            )
        }
        time.sleep(1)
        devices, holding = tokens[-4:], tokens[:-5] if args.poked else idle_tokens
        without = [throughput(server, devices, args.seconds)]
        with_streams: list[dict[str, float]] = []
        for round_ in range(args.rounds):
            rss0, _cpu = server.usage()
            idle = IdleStreams(server.port, holding, args.streams)
            try:
                if round_ == 0:  # memory and CPU of the streams, idle
                    rss1, cpu_a = server.usage()
                    time.sleep(args.seconds)
                    rss1, cpu_b = server.usage()
                    result["idle"] = {
                        "streams": args.streams,
                        "in_pushing_tenant": bool(args.poked),
                        "rss_mib_without": round(rss0, 1),
                        "rss_mib_with": round(rss1, 1),
                        "cpu_percent_idle": round(100 * (cpu_b - cpu_a) / args.seconds, 1),
                    }
                with_streams.append(throughput(server, devices, args.seconds))
            finally:
                idle.close()
            result["idle"]["pokes_received"] = result["idle"].get("pokes_received", 0) + idle.pokes
            without.append(throughput(server, devices, args.seconds))
        ratios = [
            total(with_) / max((total(before) + total(after)) / 2, 1e-9)
            for with_, before, after in zip(with_streams, without, without[1:], strict=False)
        ]
        result["throughput"] = {
            "without_streams": without,
            "with_streams": with_streams,
            "ratios": [round(r, 3) for r in ratios],
            "ratio": round(statistics.median(ratios), 2),
        }
        return result
    finally:
        server.stop()


def total(rates: dict[str, float]) -> float:
    """Items/s pushed and pulled."""
    return rates["pushed_per_s"] + rates["pulled_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--backends", default="")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--latency-streams", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--rounds", type=int, default=5, help="throughput runs with streams, between runs without"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument(
        "--poked",
        action="store_true",
        help="open the idle streams as users of the pushing tenant: every push pokes them",
    )
    args = parser.parse_args()
    if args.quick:
        args.streams, args.latency_streams, args.seconds, args.rounds = 100, 5, 3, 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    backends = args.backends.split(",") if args.backends else ["poll", "redis"]
    if not args.backends and args.database == "postgresql":
        backends.append("postgres")
    workdir = Path(os.environ.get("TMPDIR", "/tmp"))
    results = {backend: run(args.database, backend, args, workdir) for backend in backends}
    for backend, result in results.items():
        print(backend, json.dumps(result), flush=True)
    emit({"database": args.database, "backends": results})


if __name__ == "__main__":
    main()


def markdown_section(live: dict[str, Any] | None, add: Any) -> None:
    """The "Live streams" section of docs/benchmarks.md (``report.markdown``)."""
    if not live:
        return
    add("## Live streams")
    add("")
    add(
        f"`benchmarks/live.py` on {live['database']}: the example as `make example` serves it "
        "(gunicorn, two uvicorn workers), per back end. Commit-to-poke: from each push's "
        "answer to the first poke after the push began, on every listening stream (0 when "
        "the poke came first). Idle streams: the server's processes with the streams open "
        "and idle (users of other tenants: held, never poked; held by a process of their "
        "own). Throughput: 4 devices pushing 20 entries and pulling a page in a loop, each "
        "run from fresh planner statistics (this machine's PostgreSQL runs without "
        "autovacuum); runs with the idle streams open alternate with runs without them, "
        "and the ratio is the median, over the runs with streams, of each against the mean "
        "of the runs without just before and after it (every ratio in brackets)."
    )
    add("")
    add(
        "| back end | commits/s | commit-to-poke p50 / p99 | idle streams | RSS without / with "
        "| CPU idle | push+pull with / without |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|")
    for backend, result in live["backends"].items():
        lat, idle, rate = result["latency"], result["idle"], result["throughput"]
        add(
            f"| {backend} | {lat['commits_per_s']:.0f} | {lat['p50_ms']:.0f} / "
            f"{lat['p99_ms']:.0f} ms | {idle['streams']:,} | {idle['rss_mib_without']:.0f} / "
            f"{idle['rss_mib_with']:.0f} MiB | {idle['cpu_percent_idle']:.1f}% "
            f"| {rate['ratio']:.2f}x ({', '.join(f'{r:.2f}' for r in rate['ratios'])}) |"
        )
    add("")
