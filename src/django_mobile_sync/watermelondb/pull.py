"""The pull of WatermelonDB's sync protocol: every change after ``last_pulled_at``, streamed.

A WatermelonDB pull has no paging: one response carries every table's change set. It is
planned first (:meth:`WatermelonPull.plan`: the change clock, the deleted ids, the purge
check) and then streamed record by record (:meth:`WatermelonPull.stream`), so a first sync
of any size holds a few hundred records in memory at a time.

``timestamp`` is a checkpoint (:mod:`.checkpoints`), never the
time: a row recording the user and the state the pull was served for, and the position in
the change clock (:mod:`django_mobile_sync.records`) the next pull reads from. A ``created``
record is one created after ``last_pulled_at`` by someone else than the device; the
device's own new records (its pushes made with the checkpoint it presents) come back as
``updated``. A table whose domain has a view (docs/views.md) also lists the records that
left the user's view in ``deleted`` and sends those that entered it in ``created``, a change
of the user's access included (:mod:`.visibility`). When the server cannot tell what
changed after ``last_pulled_at`` (no such checkpoint of this user; tombstones it needs were
purged; the database was reset or restored; the device's tenant scope or tables changed),
the answer is the whole data set with ``"experimentalStrategy": "replacement"``:
WatermelonDB drops local records not in it and keeps unpushed changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Max, Q, QuerySet

from django_mobile_sync.records import (
    EVERYTHING,
    SyncableModelMixin,
    after_position,
    read_clock,
)

from .checkpoints import Checkpoints, is_fresh, purges_since, state_of
from .tables import Table, empty_value, to_raw
from .visibility import held_keys, in_view, stored_keys, view_changes, view_keys

if TYPE_CHECKING:
    from django_mobile_sync.engine import RowReader
    from django_mobile_sync.records import KeySet
    from django_mobile_sync.service import SyncService

#: ``json.dumps(..., separators=(",", ":"))``, built once rather than per record.
COMPACT = json.JSONEncoder(separators=(",", ":"))

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
    """What one table's change set holds: querysets to stream, and the deleted ids (read
    now, and the records of ``leaving`` whose ids are streamed after them)."""

    table: Table
    service: SyncService
    created: list[QuerySet[Any]] = field(default_factory=list)
    updated: list[QuerySet[Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    leaving: list[QuerySet[Any]] = field(default_factory=list)


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
        self.checkpoints = Checkpoints(self.using, services[0].user)
        #: The user's view keys per table (``None``: no view), read once per pull.
        self.keys: dict[str, KeySet | None] = {
            name: view_keys(service) for name, (_table, service) in self.tables.items()
        }

    def plan(self, since: int | None, migration: Migration | None = None) -> PullPlan:
        """What the pull after ``since`` (``None``: a first sync) sends.

        Read on the domains' database (a WatermelonDB pull is one response, streamed after
        this plan: a hot standby could not promise to serve all of it from one state).
        """
        alias = self.using
        reading = read_clock(alias)
        state = state_of(alias, reading, self.services())
        if since is None:
            return self.full(state, reading.horizon, after=0, replacement=False)
        held = self.checkpoints.find(since)
        if held is not None:
            self.checkpoints.forget_predecessor(held)
        try:
            holds = {name: held_keys(held.view_keys, name) for name in self.tables} if held else {}
        except ValueError:  # not keys this server stored: served whole
            holds = {}
        if any(not kept.everything and self.keys[name] is None for name, kept in holds.items()):
            # A domain lost its view since: the device never got its records outside the
            # keys it held, and nothing of the window says which they are.
            holds = {}
        if held is None or not holds or not held.serves(state, reading.clock):
            # No such checkpoint of this user (another user's, or purged), or one of
            # another database, epoch, tenant scope or set of tables, or of a lost history.
            predecessor = None if held is None else held.pk
            return self.full(state, reading.horizon, after=since, predecessor=predecessor)
        start, horizon = held.position, reading.horizon
        plans = [TablePlan(table, service) for table, service in self.tables.values()]
        for plan in plans:
            plan.deleted = [
                str(mobile_id)
                for mobile_id in self.window(plan, start, horizon)
                .filter(deleted=True)
                .order_by("change_seq", "pk")
                .values_list("mobile_id", flat=True)
            ]
        own = self.checkpoints.own_writes(held)
        # After the deleted ids: a purge that removed some of them is seen here.
        purged = purges_since(alias, [p.table.domain.name for p in plans], held.horizon)
        if any(purge_horizon > held.horizon for purge_horizon in purged):
            return self.full(state, horizon, after=since, predecessor=held.pk, own=own)
        newest = []
        for plan in plans:
            name = plan.table.name
            changed = self.window(plan, start, horizon).filter(deleted=False)
            view = view_changes(  # docs/views.md: the keys the device holds, the user's now
                plan.service, alias, start, horizon, holds[name], self.keys[name] or EVERYTHING
            )
            # New to the device: created here by others, or entered its view.
            new = Q(version=1) if view.new is None else Q(version=1) | view.new
            created = new & ~Q(change_seq__in=own)
            plan.created.append(changed.filter(created))
            plan.updated.append(changed.exclude(created))
            plan.created += view.entering
            if view.new is not None:  # a tombstone of a record the device never held
                unseen = self.window(plan, start, horizon).filter(view.new, deleted=True)
                never_held = {str(i) for i in unseen.values_list("mobile_id", flat=True)}
                plan.deleted = [i for i in plan.deleted if i not in never_held]
            plan.deleted += view.removed
            if view.leaving is not None:
                plan.leaving.append(view.leaving)
            newest.append(view.newest)
        if migration is not None:
            self.add_migration(plans, migration, alias, start, horizon)
        position = self.next_position(start, horizon, moved=newest)
        same_keys = stored_keys(self.keys) == held.view_keys
        if position == held.position and same_keys and not purged and is_fresh(held):
            return PullPlan(plans, alias, held.pk)  # nothing new: the device keeps it
        successor = self.checkpoints.mint(
            state,
            position,
            horizon,
            after=since,
            predecessor=held.pk,
            own=own,
            view_keys=stored_keys(self.keys),
        )
        return PullPlan(plans, alias, successor.pk)

    def services(self) -> list[tuple[str, SyncService]]:
        return [(name, service) for name, (_table, service) in self.tables.items()]

    def window(self, plan: TablePlan, since: int | None, below: int) -> QuerySet[Any]:
        """:func:`window` of ``plan``'s table, in the user's view."""
        keys = self.keys[plan.table.name]
        return window(plan.service, self.using, since, below, keys)

    def next_position(
        self, start: int | None, horizon: int, moved: Sequence[int | None] = ()
    ) -> int:
        """Where the next pull starts: one above the newest change of the scope served now.

        Every row below the horizon is committed, and every later write is stamped at or
        above it: a row of the scope can never appear between this position and the
        horizon. So the next pull misses nothing, and a device whose scope did not change
        keeps its position (and its checkpoint) however the clock moves elsewhere.
        """
        newest = [
            window(service, self.using, start, horizon, self.keys[name]).aggregate(
                m=Max("change_seq")
            )["m"]
            for name, (_table, service) in self.tables.items()
        ]
        newest += moved  # the newest move out of (or into) a view served now
        return max([start or 0, *(int(seq) + 1 for seq in newest if seq is not None)])

    def full(
        self,
        state: str,
        horizon: int,
        *,
        after: int,
        replacement: bool = True,
        predecessor: int | None = None,
        own: Sequence[int] = (),
    ) -> PullPlan:
        """Every live record: a first sync (``created``) or a replacement (``updated``)."""
        plans = []
        for table, service in self.tables.values():
            plan = TablePlan(table, service)
            live = self.window(plan, None, horizon).filter(deleted=False)
            (plan.updated if replacement else plan.created).append(live)
            plans.append(plan)
        checkpoint = self.checkpoints.mint(
            state,
            self.next_position(None, horizon),
            horizon,
            after=after,
            predecessor=predecessor,
            own=own,
            view_keys=stored_keys(self.keys),
        )
        return PullPlan(plans, self.using, checkpoint.pk, replacement)

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
                live = self.window(plan, None, horizon).filter(deleted=False)
                plan.created, plan.updated, plan.deleted = [live], [], []
                continue
            columns = migration.columns.get(plan.table.name, ())
            filled = filled_condition(plan.table, plan.service.model, columns)
            if filled is not None:
                older = self.window(plan, None, since).filter(deleted=False)
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
            buffer.add(f'],"deleted":{json.dumps(table_plan.deleted)[:-1]}')
            first = not table_plan.deleted
            for queryset in table_plan.leaving:
                for mobile_id in ids_in_chunks(queryset):
                    buffer.add(("" if first else ",") + json.dumps(mobile_id))
                    first = False
                    yield from buffer.flush_if_full()
            buffer.add("]}")
            yield from buffer.flush_if_full()
        tail = ',"experimentalStrategy":"replacement"' if plan.replacement else ""
        buffer.add(f'}},"timestamp":{plan.timestamp}{tail}}}')
        yield buffer.flush()

    def records(
        self, plan: TablePlan, querysets: Sequence[QuerySet[Any]], buffer: Buffer
    ) -> Iterator[bytes]:
        first, reader = True, plan.service.row_reader()
        for queryset in querysets:
            for row in in_chunks(queryset, plan.service.model, reader):
                raw = to_raw(plan.table, reader.serialize(row))
                buffer.add(("" if first else ",") + COMPACT.encode(raw))
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


def window(
    service: SyncService, alias: str, since: int | None, below: int, keys: KeySet | None
) -> QuerySet[SyncableModelMixin]:
    """The domain's rows (tenant, the view of ``keys`` and filters applied) with
    ``since <= change_seq < below``."""
    queryset = in_view(service, service.get_pull_queryset({}).using(alias), keys)
    queryset = queryset.filter(change_seq__lt=below)
    return queryset if since is None else queryset.filter(change_seq__gte=since)


def in_chunks(queryset: QuerySet[Any], model: type[Any], reader: RowReader) -> Iterator[Any]:
    """Every row of ``queryset`` in ``(change_seq, pk)`` order, :data:`CHUNK` per query,
    as ``reader`` reads them (models, or columns when it can).

    Each query starts after the last row of the previous one, so memory stays flat on any
    database and behind any pooler (no server-side cursor is needed).
    """
    ordered = queryset.order_by("change_seq", "pk")
    page = ordered
    while True:
        rows = list(reader.select(page)[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        page = ordered.filter(after_position(model, *reader.position(rows[-1])))


def ids_in_chunks(queryset: QuerySet[Any]) -> Iterator[str]:
    """The ``mobile_id`` of every row of ``queryset`` as text, by primary key,
    :data:`CHUNK` per query (memory stays flat, as :func:`in_chunks`)."""
    ordered = queryset.order_by("pk").values_list("pk", "mobile_id")
    page = ordered
    while True:
        rows = list(page[:CHUNK])
        for _pk, mobile_id in rows:
            yield str(mobile_id)
        if len(rows) < CHUNK:
            return
        page = ordered.filter(pk__gt=rows[-1][0])


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
