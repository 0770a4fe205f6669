"""Shared set-up of the benchmark scripts: database, Django, users, timing, row generation."""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DATA = Path(__file__).resolve().parent / ".data"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://root@127.0.0.1:5432/postgres")
#: Appended to every benchmark database's name, so that runs sharing a server do not collide.
DB_SUFFIX = os.environ.get("BENCH_DB_SUFFIX", "")


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql)


def setup(backend: str, db_name: str, fresh: bool = True) -> None:
    """Configure Django for ``backend`` ("sqlite" or "postgresql") on database ``db_name``
    (plus ``BENCH_DB_SUFFIX``)."""
    db_name += DB_SUFFIX
    os.environ["BENCH_DB"] = backend
    os.environ["BENCH_DB_NAME"] = db_name
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    if fresh:
        if backend == "postgresql":
            pg_admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            pg_admin(f'CREATE DATABASE "{db_name}"')
        else:
            DATA.mkdir(exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                (DATA / f"{db_name}.sqlite3{suffix}").unlink(missing_ok=True)
    import django

    django.setup()
    if fresh:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def drop(backend: str, db_name: str) -> None:
    from django.db import connections

    db_name += DB_SUFFIX

    connections.close_all()
    if backend == "postgresql":
        pg_admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    else:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (DATA / f"{db_name}.sqlite3{suffix}").unlink(missing_ok=True)


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / ticks, sum(values) / ticks


def settle(postgres: bool, quiet: float = 0.15, window: float = 3.0, limit: float = 120) -> float:
    """Wait until the machine is quiet; return the seconds waited.

    The load run saturates both CPUs: a checkpoint or autovacuum still working on the
    previous benchmarks' tables would take its share. So: CHECKPOINT, then wait until the
    machine is busy less than ``quiet`` of the time over ``window`` seconds (at most
    ``limit`` seconds).
    """
    started = time.monotonic()
    if postgres:
        pg_admin("CHECKPOINT")
    while time.monotonic() - started < limit:
        busy0, total0 = machine_busy_seconds()
        time.sleep(window)
        busy1, total1 = machine_busy_seconds()
        if (busy1 - busy0) / max(total1 - total0, 1e-9) < quiet:
            break
    return time.monotonic() - started


def make_user(name: str, org: Any = None) -> tuple[Any, str]:
    """A user of ``org`` (a new one by default) and its API token."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from benchmarks.benchapp.models import Member, Org

    org = org or Org.objects.create(name=f"org of {name}")
    user = User.objects.create_user(name)
    Member.objects.create(user=user, org=org)
    return user, Token.objects.create(user=user).key


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``action`` takes (garbage collected before, not during the measurement)."""
    gc.collect()
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def new_id() -> str:
    return str(uuid.uuid4())


def emit(result: Any) -> None:
    """Hand the result to run.py: one JSON line on stdout, marked."""
    print("BENCH-RESULT " + json.dumps(result, default=str), flush=True)


def insert_tasks_sql(
    org_id: int, count: int, first: int, rows_per_seq: int, seq_base: int, vendor: str
) -> tuple[str, list[Any]]:
    """One INSERT ... SELECT making ``count`` tasks of ``org_id`` in the database itself.

    Row ``i`` (from ``first``) gets ``change_seq = seq_base + i // rows_per_seq``: the rows
    look written by transactions of ``rows_per_seq`` records each (pushes of a batch). Every
    100th row is a tombstone.
    """
    if vendor == "postgresql":
        sql = f"""
        INSERT INTO benchapp_task (org_id, mobile_id, title, status, priority, notes, due_at,
            history, version, created_at, updated_at, change_seq, deleted, deleted_at,
            field_versions)
        SELECT %s, gen_random_uuid(), 'task ' || i, 'todo', i %% 6, 'notes of task ' || i,
            now() + (i %% 30) * interval '1 day', '[]'::jsonb, 1, now(), now(),
            %s + i / {int(rows_per_seq)}, i %% 100 = 0, CASE WHEN i %% 100 = 0 THEN now() END,
            '{{}}'::jsonb
        FROM generate_series(%s, %s) AS i
        """
        return sql, [org_id, seq_base, first, first + count - 1]
    sql = f"""
    WITH RECURSIVE s(i) AS (SELECT %s UNION ALL SELECT i + 1 FROM s WHERE i < %s)
    INSERT INTO benchapp_task (org_id, mobile_id, title, status, priority, notes, due_at,
        history, version, created_at, updated_at, change_seq, deleted, deleted_at,
        field_versions)
    SELECT %s, lower(hex(randomblob(16))), 'task ' || i, 'todo', i %% 6, 'notes of task ' || i,
        datetime('now', '+' || (i %% 30) || ' days'), '[]', 1, datetime('now'),
        datetime('now'), %s + i / {int(rows_per_seq)}, i %% 100 = 0,
        CASE WHEN i %% 100 = 0 THEN datetime('now') END, '{{}}'
    FROM s
    """
    return sql, [first, first + count - 1, org_id, seq_base]


def generate_tasks(
    org: Any, count: int, first: int = 0, rows_per_seq: int = 1000, using: str = "default"
) -> None:
    """Add ``count`` tasks to ``org`` with SQL (fast: no Python objects per row).

    Then VACUUM ANALYZE (ANALYZE on SQLite): the timings that follow should not share the
    machine with autovacuum catching up on the new rows.
    """
    from django.db import connections, transaction

    connection = connections[using]
    vendor = connection.vendor
    seq_base = 1
    if vendor == "postgresql":
        # Below the pull horizon: older than every running transaction.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            horizon = int(cursor.fetchone()[0])
        if (first + count) // rows_per_seq + 1 >= horizon:
            raise RuntimeError("the cluster's transaction ids are too young for this data set")
    step = 200_000
    for start in range(first, first + count, step):
        n = min(step, first + count - start)
        sql, params = insert_tasks_sql(org.pk, n, start, rows_per_seq, seq_base, vendor)
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(sql, params)
    if vendor != "postgresql":
        # The rows look written by transactions up to their change_seq: the counter clock
        # must have reached it, or pulls (which read below it) would not see them.
        from django.db.models import Max

        from benchmarks.benchapp.models import Task
        from django_mobile_sync.models import ChangeClock

        top = Task.all_objects.using(using).aggregate(top=Max("change_seq"))["top"] or 0
        clock, _ = ChangeClock.objects.using(using).get_or_create(pk=1, defaults={"value": 0})
        if clock.value < top:
            ChangeClock.objects.using(using).filter(pk=1).update(value=top)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) benchapp_task" if vendor == "postgresql" else "ANALYZE")
