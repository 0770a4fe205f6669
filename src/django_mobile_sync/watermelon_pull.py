"""The pull of WatermelonDB's sync protocol: every change after ``last_pulled_at``, streamed.

A WatermelonDB pull has no paging: one response carries every table's change set. It is
planned first (:meth:`WatermelonPull.plan`: the change clock, the deleted ids, the purge
check) and then streamed record by record (:meth:`WatermelonPull.stream`), so a first sync
of any size holds a few hundred records in memory at a time.

``timestamp`` is the change clock's horizon (:mod:`django_mobile_sync.clock`), never the
time, tagged with the state it belongs to (:mod:`django_mobile_sync.watermelon_timestamp`):
every row written by a transaction below it has been served, and the next pull asks for
rows from it. A ``created`` record is one created after ``last_pulled_at`` by another
device; the requesting device's own new records (known by ``X-Device-Id`` from the batch log)
come back as ``updated``. When the server can no longer tell what changed after
``last_pulled_at`` (tombstones it needs were purged; the database was reset or restored; the
device's tenant scope or tables changed), the answer is the whole data set with
``"experimentalStrategy": "replacement"``: WatermelonDB drops local records not in it and
keeps unpushed changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet

from .clock import after_position, read_clock
from .exceptions import CursorExpired
from .mixin import SyncableModelMixin
from .models import SyncBatch
from .pull import check_not_purged
from .watermelon_tables import Table, empty_value, to_raw
from .watermelon_timestamp import Timestamp, state_tag

if TYPE_CHECKING:
    from .service import SyncService

#: Rows read per query while streaming.
CHUNK = 500
#: Bytes gathered before the stream hands them to the server.
FLUSH_BYTES = 64 * 1024


@dataclass(frozen=True)
class Migration:
    """A migration sync's ``migration``: what the app's schema gained since ``from``.

    Attributes:
        from_version: the schema version the device last synced at.
        tables: tables created since (every record of them is sent).
        columns: per table, columns added since (records where one is set are sent).
    """

    from_version: int
    tables: frozenset[str] = frozenset()
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class TablePlan:
    """What one table's change set holds: querysets to stream, and the deleted ids."""

    table: Table
    service: SyncService
    created: list[QuerySet[Any]] = field(default_factory=list)
    updated: list[QuerySet[Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass
class PullPlan:
    """A planned pull: the tables' change sets, read on ``alias``, and the new timestamp."""

    tables: list[TablePlan]
    alias: str
    timestamp: int
    replacement: bool = False

    def created_as_updated(self) -> None:
        """Send every record as ``updated`` (for apps passing ``sendCreatedAsUpdated``)."""
        for table in self.tables:
            table.updated[:0], table.created = table.created, []


class WatermelonPull:
    """One device's WatermelonDB pull over the mapped tables.

    Args:
        tables: ``{table name: (table, the domain's service for this request)}``, all on
            one database.
    """

    def __init__(self, tables: Mapping[str, tuple[Table, SyncService]]) -> None:
        if not tables:
            raise ValueError("A WatermelonDB pull needs at least one table.")
        self.tables = dict(tables)
        services = [service for _table, service in self.tables.values()]
        self.using = services[0].using
        self.device_id = services[0].device_id
        self.user_id = getattr(services[0].user, "pk", None)

    def plan(self, since: int | None, migration: Migration | None = None) -> PullPlan:
        """What the pull after ``since`` (``None``: a first sync) sends.

        Read on the domains' database (a WatermelonDB pull is one response, streamed after
        this plan: a hot standby could not promise to serve all of it from one state).
        """
        alias = self.using
        reading = read_clock(alias)
        tag = state_tag(alias, reading, self.services())
        horizon = reading.horizon
        if since is None:
            return self.full(alias, Timestamp(tag, horizon), replacement=False)
        last = Timestamp.of(since)
        if last.tag != tag or last.position > reading.clock:
            # Another epoch, scope or set of tables, or a clock gone back (a restore).
            return self.full(alias, Timestamp(tag, horizon), replacement=True)
        start = last.position
        plans = [TablePlan(table, service) for table, service in self.tables.values()]
        for plan in plans:
            plan.deleted = [
                str(mobile_id)
                for mobile_id in window(plan.service, alias, start, horizon)
                .filter(deleted=True)
                .order_by("change_seq", "pk")
                .values_list("mobile_id", flat=True)
            ]
        try:  # after the deleted ids: a purge that removed some of them is seen here
            # Every row below ``start`` was read: a purge up to it took nothing needed.
            check_not_purged(alias, 0, {p.table.domain.name: start for p in plans})
        except CursorExpired:
            return self.full(alias, Timestamp(tag, horizon), replacement=True)
        own = own_writes(alias, self.device_id, self.user_id, start, horizon)
        for plan in plans:
            changed = window(plan.service, alias, start, horizon).filter(deleted=False)
            created = Q(version=1) & ~Q(change_seq__in=own)
            plan.created.append(changed.filter(created))
            plan.updated.append(changed.exclude(created))
        if migration is not None:
            self.add_migration(plans, migration, alias, start, horizon)
        return PullPlan(plans, alias, Timestamp(tag, max(horizon, start)).number)

    def services(self) -> list[tuple[str, SyncService]]:
        return [(name, service) for name, (_table, service) in self.tables.items()]

    def full(self, alias: str, timestamp: Timestamp, *, replacement: bool) -> PullPlan:
        """Every live record: a first sync (``created``) or a replacement (``updated``)."""
        plans = []
        for table, service in self.tables.values():
            live = window(service, alias, None, timestamp.position).filter(deleted=False)
            plan = TablePlan(table, service)
            (plan.updated if replacement else plan.created).append(live)
            plans.append(plan)
        return PullPlan(plans, alias, timestamp.number, replacement)

    def add_migration(
        self,
        plans: Sequence[TablePlan],
        migration: Migration,
        alias: str,
        since: int,
        horizon: int,
    ) -> None:
        """A migration sync: new tables whole, and older records with a new column set."""
        for plan in plans:
            if plan.table.name in migration.tables:
                live = window(plan.service, alias, None, horizon).filter(deleted=False)
                plan.created, plan.updated, plan.deleted = [live], [], []
                continue
            columns = migration.columns.get(plan.table.name, ())
            filled = filled_condition(plan.table, plan.service.model, columns)
            if filled is not None:
                older = window(plan.service, alias, None, since).filter(deleted=False)
                plan.updated.append(older.filter(filled))

    # -- streaming -------------------------------------------------------------------------
    def stream(self, plan: PullPlan) -> Iterator[bytes]:
        """The response body: ``{"changes": {...}, "timestamp": n}``, in pieces."""
        buffer = Buffer()
        buffer.add('{"changes":{')
        for index, table_plan in enumerate(plan.tables):
            name = json.dumps(table_plan.table.name)
            buffer.add(f'{"," if index else ""}{name}:{{"created":[')
            yield from self.records(table_plan, table_plan.created, buffer)
            buffer.add('],"updated":[')
            yield from self.records(table_plan, table_plan.updated, buffer)
            buffer.add(f'],"deleted":{json.dumps(table_plan.deleted)}}}')
            yield from buffer.flush_if_full()
        tail = ',"experimentalStrategy":"replacement"' if plan.replacement else ""
        buffer.add(f'}},"timestamp":{plan.timestamp}{tail}}}')
        yield buffer.flush()

    def records(
        self, plan: TablePlan, querysets: Sequence[QuerySet[Any]], buffer: Buffer
    ) -> Iterator[bytes]:
        first = True
        for queryset in querysets:
            for row in in_chunks(queryset, plan.service.model):
                raw = to_raw(plan.table, plan.service.serialize_record(row))
                buffer.add(("" if first else ",") + json.dumps(raw, separators=(",", ":")))
                first = False
                yield from buffer.flush_if_full()


class Buffer:
    """Text gathered into pieces of about :data:`FLUSH_BYTES`."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def flush(self) -> bytes:
        data = "".join(self.parts).encode()
        self.parts, self.size = [], 0
        return data

    def flush_if_full(self) -> Iterator[bytes]:
        if self.size >= FLUSH_BYTES:
            yield self.flush()


def own_writes(
    using: str, device_id: str, user_id: Any, since: int, below: int | None = None
) -> list[int]:
    """Clock values of the pushes a device (``X-Device-Id`` of a user) made from ``since``.

    Read from the batch log; ``[]`` for a device that sends no id.
    """
    if not device_id:
        return []
    batches = SyncBatch.objects.using(using).filter(
        device_id=device_id[:255], change_seq__gte=since
    )
    if below is not None:
        batches = batches.filter(change_seq__lt=below)
    batches = (
        batches.filter(user__isnull=True) if user_id is None else batches.filter(user_id=user_id)
    )
    return sorted({seq for seq in batches.values_list("change_seq", flat=True) if seq})


def window(
    service: SyncService, alias: str, since: int | None, below: int
) -> QuerySet[SyncableModelMixin]:
    """The domain's rows (tenant and filters applied) with ``since <= change_seq < below``."""
    queryset = service.get_pull_queryset({}).using(alias).filter(change_seq__lt=below)
    return queryset if since is None else queryset.filter(change_seq__gte=since)


def in_chunks(queryset: QuerySet[Any], model: type[Any]) -> Iterator[Any]:
    """Every row of ``queryset`` in ``(change_seq, pk)`` order, :data:`CHUNK` per query.

    Each query starts after the last row of the previous one, so memory stays flat on any
    database and behind any pooler (no server-side cursor is needed).
    """
    ordered = queryset.order_by("change_seq", "pk")
    page = ordered
    while True:
        rows = list(page[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        last = rows[-1]
        page = ordered.filter(after_position(model, last.change_seq, last.pk))


def filled_condition(table: Table, model: type[Any], columns: Sequence[str]) -> Q | None:
    """Rows where one of ``columns`` holds a value (not WatermelonDB's empty one).

    ``None`` when no column is one of the table's; every row when one cannot be tested in
    SQL (a value the serializer computes).
    """
    conditions = []
    for column in columns:
        wire = table.readable.get(column)
        if wire is None:
            continue  # not a column of this table: whitelisted away
        try:
            model_field = model._meta.get_field(wire)
        except FieldDoesNotExist:
            return Q()  # computed by the serializer: no way to tell, send every record
        empty = empty_value(model_field)
        filled = ~Q(**{f"{wire}__isnull": True})
        if empty is not None:
            filled &= ~Q(**{wire: empty})
        conditions.append(filled)
    return reduce(or_, conditions) if conditions else None
