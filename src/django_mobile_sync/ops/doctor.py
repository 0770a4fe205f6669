"""``manage.py sync_doctor``: what a deployment gets wrong, and what to do about it.

Each ``*_findings`` function is one check of a deployment (Django's system checks run first,
:func:`configuration_findings`) and returns :class:`Finding` objects; the command prints them
and fails at a chosen level. Checks read the configuration and the database catalogue; they
write nothing to the database (the throttle check writes, reads back and deletes one probe
key in a cache store).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core import checks as django_checks
from django.core.cache import caches
from django.core.cache.backends.base import InvalidCacheBackendError
from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone

from ..conf import sync_settings
from ..domains import SyncDomain, get_domains
from ..engine.epoch import rows_above_clock
from ..engine.replicas import inspect_replica, pull_databases
from ..models import IdempotencyRecord, ThrottleCounter
from ..records import read_clock, recommended_index, serves_pulls
from ..throttling import DATABASE_STORE_VENDORS

OK, INFO, WARNING, ERROR = 0, 1, 2, 3
LEVEL_NAMES = {OK: "ok", INFO: "info", WARNING: "warning", ERROR: "error"}

#: Cache backends whose ``incr`` is atomic and shared by every process.
SHARED_CACHES = ("RedisCache", "PyMemcacheCache", "PyLibMCCache", "MemcachedCache")
PER_PROCESS_CACHES = ("LocMemCache", "DummyCache")
NON_ATOMIC_CACHES = ("DatabaseCache", "FileBasedCache")
#: An open transaction older than this is reported on PostgreSQL.
LONG_TRANSACTION_SECONDS = 60
#: A standby further behind the primary's WAL than this is reported.
REPLICA_LAG_BYTES = 64 * 1024 * 1024


@dataclass
class Finding:
    level: int
    topic: str
    message: str
    fix: str = ""

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]


def diagnose(using: str = "default", deploy: bool = False) -> list[Finding]:
    """Every finding of every check, in a stable order.

    Args:
        using: the database alias to inspect.
        deploy: also run Django's deployment checks (``check --deploy``).
    """
    found: list[Finding] = list(configuration_findings(using, deploy))
    for check in CHECKS:
        found.extend(check(using))
    return found


def configuration_findings(using: str, deploy: bool = False) -> Iterator[Finding]:
    """Django's system checks (``MOBILE_SYNC`` and everything else)."""
    messages = django_checks.run_checks(include_deployment_checks=deploy, databases=[using])
    serious = [
        m
        for m in messages
        if m.level >= django_checks.WARNING
        and not m.is_silenced()
        and m.id != "django_mobile_sync.W001"  # the indexes check reads the real tables
    ]
    for message in serious:
        level = ERROR if message.level >= django_checks.ERROR else WARNING
        yield Finding(level, "configuration", f"{message.id}: {message.msg}", message.hint or "")
    if not serious:
        yield Finding(OK, "configuration", f"system checks pass ({len(get_domains())} domains)")


def throttle_store_findings(using: str) -> Iterator[Finding]:
    """The throttle counters live in a store every server process shares, and it answers."""
    if not sync_settings.THROTTLE_CLASSES:
        yield Finding(INFO, "throttling", "THROTTLE_CLASSES is empty: requests are not throttled")
        return
    store = sync_settings.THROTTLE_STORE
    if store == "database":
        yield from _database_store_findings()
    elif store == "cache":
        yield from _cache_store_findings()
    # Any other value is the system check E014, reported under "configuration".


def _database_store_findings() -> Iterator[Finding]:
    alias = router.db_for_write(ThrottleCounter)
    connection = connections[alias]
    table = ThrottleCounter._meta.db_table
    where = f"the table {table} on the database {alias!r}"
    if connection.vendor not in DATABASE_STORE_VENDORS:
        yield Finding(
            ERROR,
            "throttling",
            f"THROTTLE_STORE is 'database' but {alias!r} is {connection.vendor}: the counters "
            "need PostgreSQL or SQLite (INSERT ... ON CONFLICT DO UPDATE ... RETURNING)",
            "Set MOBILE_SYNC['THROTTLE_STORE'] = 'cache' with a Redis THROTTLE_CACHE.",
        )
        return
    try:
        with transaction.atomic(using=alias):  # a savepoint if the caller holds a transaction
            ThrottleCounter.objects.using(alias).exists()
    except DatabaseError as exc:
        yield Finding(
            ERROR,
            "throttling",
            f"the throttle counters cannot be read from {where}: {exc}",
            f"Run manage.py migrate django_mobile_sync --database {alias}.",
        )
        return
    if connection.settings_dict.get("ATOMIC_REQUESTS"):
        yield Finding(
            WARNING,
            "throttling",
            f"ATOMIC_REQUESTS is on for the database {alias!r}, which holds the throttle "
            "counters: a counter row stays locked until the request that counted ends (a "
            "user's concurrent requests wait for each other), and a request that fails rolls "
            "its hit back (failed requests are not counted)",
            "Turn ATOMIC_REQUESTS off (the sync views run their own transactions), route "
            "ThrottleCounter to another alias of the same PostgreSQL database without it, "
            "or set THROTTLE_STORE = 'cache' with Redis.",
        )
        return
    yield Finding(
        OK,
        "throttling",
        f"the throttle counters are rows of {where}: shared by every process, counted by "
        "one atomic upsert",
    )


def _cache_store_findings() -> Iterator[Finding]:
    alias = sync_settings.THROTTLE_CACHE
    try:
        cache = caches[alias]
    except InvalidCacheBackendError as exc:
        yield Finding(
            ERROR,
            "throttling",
            f"THROTTLE_CACHE names the cache {alias!r}, which does not work: {exc}",
            "Name an alias of CACHES in MOBILE_SYNC['THROTTLE_CACHE'].",
        )
        return
    backend = type(cache).__name__
    fix = (
        "Set MOBILE_SYNC['THROTTLE_STORE'] = 'database', or point "
        "MOBILE_SYNC['THROTTLE_CACHE'] at a Redis or Memcached cache shared by every "
        "server process (CACHES = {'throttle': {'BACKEND': "
        "'django.core.cache.backends.redis.RedisCache', 'LOCATION': 'redis://...'}})."
    )
    if backend != "DummyCache":  # keeps nothing by design: reported below
        problem = _cache_problem(cache)
        if problem:
            yield Finding(
                ERROR,
                "throttling",
                f"the throttle cache {alias!r} ({backend}) does not answer: {problem}. "
                "Every request a throttle counts fails with a 500",
                "Start the cache server or fix its LOCATION, or set "
                "MOBILE_SYNC['THROTTLE_STORE'] = 'database'.",
            )
            return
    if backend in PER_PROCESS_CACHES:
        yield Finding(
            WARNING,
            "throttling",
            f"the throttle cache {alias!r} is a {backend}: every process counts on its own, "
            "so N gunicorn workers or servers allow N times the rate",
            fix,
        )
    elif backend in NON_ATOMIC_CACHES:
        yield Finding(
            WARNING,
            "throttling",
            f"the throttle cache {alias!r} is a {backend}, whose incr() is not atomic: "
            "concurrent pushes can all pass the last slot",
            fix,
        )
    elif backend in SHARED_CACHES:
        yield Finding(OK, "throttling", f"the throttle cache {alias!r} is a shared {backend}")
    else:
        yield Finding(
            INFO,
            "throttling",
            f"the throttle cache {alias!r} is a {backend}; make sure every process shares it "
            "and that its incr() is atomic",
        )


def _cache_problem(cache: Any) -> str:
    """What is wrong when a probe key cannot be written and read back; "" when it can."""
    probe = f"mobile_sync:doctor:{uuid.uuid4().hex}"
    try:
        cache.set(probe, probe, timeout=30)
        answer = cache.get(probe)
        cache.delete(probe)
    except Exception as exc:  # each backend raises its own (redis.ConnectionError, OSError)
        return f"{type(exc).__name__}: {exc}"
    return "" if answer == probe else "a key written to it cannot be read back"


def pull_index_findings(using: str) -> Iterator[Finding]:
    """Each domain's table has an index serving the pull query (tenant…, change_seq)."""
    connection = connections[using]
    for domain in get_domains().values():
        try:
            model = domain.model_class
        except Exception:  # reported by the system checks
            continue
        table = model._meta.db_table
        try:
            with connection.cursor() as cursor:
                if table not in connection.introspection.table_names(cursor):
                    yield Finding(
                        ERROR,
                        f"indexes: {domain.name}",
                        f"the table {table} does not exist on the database {using!r}",
                        "Run manage.py migrate.",
                    )
                    continue
                constraints = connection.introspection.get_constraints(cursor, table)
        except DatabaseError as exc:
            yield Finding(ERROR, f"indexes: {domain.name}", f"cannot read {table}: {exc}")
            continue
        yield index_finding(domain, model, constraints)


def index_finding(domain: SyncDomain, model: Any, constraints: dict[str, Any]) -> Finding:
    topic = f"indexes: {domain.name}"
    tenant = [model._meta.get_field(name).column for name in domain.tenant_fields]
    seq = model._meta.get_field("change_seq").column
    indexed = [c["columns"] for c in constraints.values() if c.get("index") or c.get("unique")]
    wanted = [*tenant, seq]
    for columns in indexed:
        if serves_pulls(columns, tenant, seq):
            return Finding(OK, topic, f"an index on ({', '.join(columns)}) serves pulls")
    fix = (
        f"Add {recommended_index(model, domain.tenant_fields)} to {model.__name__}.Meta.indexes "
        "and run makemigrations and migrate."
    )
    if any(columns[:1] == [seq] for columns in indexed):
        return Finding(
            WARNING,
            topic,
            f"pulls filter by ({', '.join(tenant)}) and order by {seq}, but only {seq} alone "
            "is indexed: each pull walks other tenants' changes",
            fix,
        )
    return Finding(ERROR, topic, f"no index starts with ({', '.join(wanted)})", fix)


def database_findings(using: str) -> Iterator[Finding]:
    """Backend settings the change cursor and concurrent pushes depend on."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        yield from _postgresql_findings(using)
    elif connection.vendor == "sqlite":
        mode = str(connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") or "")
        if mode.upper() == "IMMEDIATE":
            yield Finding(OK, "database", "SQLite takes the write lock at BEGIN (IMMEDIATE)")
        else:
            yield Finding(
                WARNING,
                "database",
                "SQLite transactions start DEFERRED: two concurrent pushes can fail with "
                "'database is locked' halfway through instead of waiting their turn",
                f"Set DATABASES[{using!r}]['OPTIONS'] = {{'transaction_mode': 'IMMEDIATE', "
                "'timeout': 20}.",
            )
    else:
        yield Finding(
            INFO, "database", f"{connection.vendor} is not a tested backend; use PostgreSQL"
        )


def _postgresql_findings(using: str) -> Iterator[Finding]:
    per_database = sync_settings.PULL_HORIZON == "database"
    with connections[using].cursor() as cursor:
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        timeout = str(cursor.fetchone()[0])
        cursor.execute(
            "SELECT pid, EXTRACT(EPOCH FROM now() - xact_start)::int FROM pg_stat_activity "
            "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
            + ("AND datname = current_database() " if per_database else "")
            + "ORDER BY xact_start LIMIT 1"
        )
        oldest = cursor.fetchone()
    where = "this database" if per_database else "any database of the cluster"
    if per_database:
        yield Finding(
            OK,
            "database",
            "pull horizon: per database (PULL_HORIZON = 'database'): only transactions of "
            "this database delay pulls",
        )
    else:
        yield Finding(
            INFO,
            "database",
            "pull horizon: cluster-wide (PULL_HORIZON = 'cluster'): a transaction open in "
            "any database of the cluster delays pulls",
            "Set MOBILE_SYNC['PULL_HORIZON'] = 'database' unless the role cannot read "
            "pg_stat_activity.backend_xid of other sessions.",
        )
    if timeout in ("0", "0ms", "0s"):
        yield Finding(
            WARNING,
            "database",
            "idle_in_transaction_session_timeout is off: a session left idle inside a "
            f"transaction on {where} holds the pull horizon back, so no device receives "
            "any change made after it began until it ends",
            "ALTER ROLE <app role> SET idle_in_transaction_session_timeout = '60s' (and "
            "statement_timeout; transaction_timeout on PostgreSQL 17+).",
        )
    else:
        yield Finding(OK, "database", f"idle_in_transaction_session_timeout = {timeout}")
    if oldest is not None and oldest[1] is not None and oldest[1] > LONG_TRANSACTION_SECONDS:
        yield Finding(
            WARNING,
            "database",
            f"backend pid {oldest[0]} has held a transaction open for {oldest[1]} s: pulls "
            "serve no change newer than its start until it ends",
            f"Look at SELECT * FROM pg_stat_activity WHERE pid = {oldest[0]}.",
        )


def housekeeping_findings(using: str) -> Iterator[Finding]:
    """The purge commands run: no expired idempotency records or tombstones pile up."""
    now = timezone.now()
    try:
        expired = IdempotencyRecord.objects.using(using).filter(expires_at__lte=now).exists()
    except DatabaseError:
        return  # the tables are missing: reported with the indexes
    if expired:
        yield Finding(
            INFO,
            "housekeeping",
            "expired idempotency records are waiting to be purged",
            "Schedule manage.py purge_idempotency_keys (hourly or daily).",
        )
    before = now - sync_settings.TOMBSTONE_RETENTION
    for domain in get_domains().values():
        try:
            model: Any = domain.model_class
            stale = model.sync_queryset(using).filter(deleted=True, deleted_at__lt=before)
            if stale.exists():
                yield Finding(
                    INFO,
                    "housekeeping",
                    f"{domain.name} has tombstones older than TOMBSTONE_RETENTION",
                    "Schedule manage.py purge_tombstones (daily).",
                )
        except Exception:  # a missing table or model: reported by other checks
            continue


def epoch_findings(using: str) -> Iterator[Finding]:
    """The clock's identity, and rows stamped above it (a dump of another cluster)."""
    try:
        reading = read_clock(using)
        above = rows_above_clock(using)
    except DatabaseError:
        return  # the tables are missing: reported with the indexes
    if reading.cluster:
        yield Finding(
            OK,
            "epoch",
            f"cursors carry this cluster's system identifier {reading.cluster}"
            + (f" and reset {reading.reset}" if reading.reset else ""),
        )
    if above:
        counts = ", ".join(f"{label}: {count}" for label, count in sorted(above.items()))
        yield Finding(
            ERROR,
            "epoch",
            f"rows are stamped at or above this database's change clock ({counts}): restored "
            "from another cluster? Pulls do not serve them until the clock passes them",
            f"Run manage.py sync_reset --database {using} (devices resync from scratch).",
        )


def replica_findings(using: str) -> Iterator[Finding]:
    """The hot standbys ``PULL_DATABASES`` names for ``using`` can serve pulls."""
    standbys = pull_databases(using)
    if not standbys:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield Finding(
            ERROR,
            "replicas",
            f"PULL_DATABASES names standbys for {using!r}, which is {connection.vendor}: "
            "pulls read it alone",
            f"Remove {using!r} from MOBILE_SYNC['PULL_DATABASES'].",
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT system_identifier FROM pg_control_system())::text, "
            "pg_current_wal_lsn()::text"
        )
        cluster, lsn = cursor.fetchone()
    for standby in standbys:
        state = inspect_replica(standby, lsn)
        topic = f"replicas: {standby}"
        if state.error:
            yield Finding(
                WARNING,
                topic,
                f"cannot be read ({state.error}): the primary serves every pull",
                f"Check DATABASES[{standby!r}] and that the standby runs.",
            )
        elif not state.standby:
            yield Finding(
                ERROR,
                topic,
                "is not in recovery (not a hot standby, or promoted): never read, the "
                "primary serves every pull",
                "Point it at a streaming replica of the primary.",
            )
        elif state.cluster != cluster:
            yield Finding(
                ERROR,
                topic,
                f"has the system identifier {state.cluster}, the primary {cluster}: not its "
                "physical standby, never read",
                "Point it at a streaming replica (pg_basebackup -R) of this primary.",
            )
        else:
            yield Finding(
                OK,
                topic,
                f"a hot standby of {using!r}, {state.behind_bytes} bytes of WAL behind",
            )
            if (state.behind_bytes or 0) > REPLICA_LAG_BYTES:
                yield Finding(
                    WARNING,
                    topic,
                    f"is {state.behind_bytes} bytes of WAL behind the primary: devices get "
                    "changes late",
                    "Look at pg_stat_replication on the primary.",
                )
            if state.feedback != "on":
                yield Finding(
                    WARNING,
                    topic,
                    "hot_standby_feedback is off: replaying vacuum may cancel pull queries "
                    "(the primary then serves those pages)",
                    "Set hot_standby_feedback = on on the standby.",
                )


#: The checks after the system checks, each given the database alias.
CHECKS: list[Callable[[str], Iterator[Finding]]] = [
    throttle_store_findings,
    pull_index_findings,
    database_findings,
    epoch_findings,
    replica_findings,
    housekeeping_findings,
]
