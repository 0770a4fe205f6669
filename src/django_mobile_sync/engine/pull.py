"""The pull engine: pages of changes after a position, for one domain or several.

Both read the change clock first (:func:`~django_mobile_sync.records.clock.read_clock`): its
horizon, and its epoch, which the position must share (:mod:`django_mobile_sync.engine.epoch`);
then rows below the horizon after the position, in ``(change_seq, pk)`` order; and last they
check that no tombstone purge took away a row the position still needs (a ``410``). A page is
bounded by a number of items and by ``MAX_PAGE_BYTES``. Every read of a page runs on one
server: a hot standby of the domain's database when ``PULL_DATABASES`` names one and it can
serve the page, the primary otherwise (:mod:`django_mobile_sync.engine.replicas`).

- :func:`read_page`: one domain, after a :class:`~django_mobile_sync.engine.cursor.Position`.
- :class:`ChangeFeed`: several domains of one database, after a
  :class:`~django_mobile_sync.engine.cursor.FeedPosition`, parents before children.

See the documentation's "Pulling in your own code" page for the guarantee and its proof.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import DataError
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from ..conf import sync_settings
from ..exceptions import CursorExpired, ReadOnPrimary
from ..models import TombstonePurge
from ..records.clock import ClockReading, after_position, read_clock
from .cursor import FeedPosition, Position
from .epoch import check_origin, origin_of
from .replicas import check_reader, read_with_fallback

if TYPE_CHECKING:
    from .hooks import SyncHooks

#: A position of one domain or of a feed: both carry a purge mark and an origin.
AnyPosition = TypeVar("AnyPosition", Position, FeedPosition)

EXPIRED = (
    "Tombstones this cursor still needs were purged; resync from scratch "
    "(keep your unpushed changes and push them after)."
)


#: ``json.dumps(item, default=str)``, built once rather than per item.
SIZING = json.JSONEncoder(default=str)


@dataclass
class Page:
    """One page of one domain's changes, and the position after it."""

    items: list[dict[str, Any]]
    has_more: bool
    position: Position
    started: datetime.datetime


class Budget:
    """Items and bytes left on a page."""

    def __init__(self, limit: int) -> None:
        self.items, self.bytes = limit, int(sync_settings.MAX_PAGE_BYTES)
        self.taken = 0

    def take(self, item: dict[str, Any]) -> bool:
        """Count ``item`` in; ``False`` if its bytes do not fit (a page holds at least one)."""
        size = len(SIZING.encode(item))
        if self.taken and size > self.bytes:
            return False
        self.items, self.bytes, self.taken = self.items - 1, self.bytes - size, self.taken + 1
        return True


@dataclass(frozen=True)
class PageRead:
    """A page being read on ``alias`` for the database ``database``: when it started, and
    the change clock of the server ``alias`` reaches (see :func:`open_page`)."""

    alias: str
    database: str
    started: datetime.datetime
    reading: ClockReading

    @property
    def horizon(self) -> int:
        return self.reading.horizon

    def close(self, position: AnyPosition) -> AnyPosition:
        """``position`` as the next cursor carries it: the purge mark raised to the horizon
        (a purge not finished when the horizon was read has a clock value at or above it:
        the next page checks it; the mark never moves down, as a standby may lag behind the
        server of the previous page) and the origin of this read."""
        return replace(
            position,
            purge=max(position.purge, self.horizon),
            origin=origin_of(self.database, self.reading),
        )


def open_page(alias: str, database: str, position: Position | FeedPosition) -> PageRead:
    """Start reading a page after ``position`` on ``alias`` (``database`` or a standby of it).

    Reads the clock, then checks that ``alias`` may serve the page and that ``position``
    belongs to this database and its epoch.

    Raises:
        ReadOnPrimary: ``alias`` is a standby that cannot serve this page.
        InvalidCursor: ``position`` belongs to another database.
        CursorExpired: ``position`` belongs to another epoch of the database.
    """
    started = timezone.now()
    reading = read_clock(alias)
    check_reader(alias, database, reading)
    check_origin(position.origin, position.purge, database, reading)
    return PageRead(alias, database, started, reading)


def fetch(queryset: QuerySet[Any], count: int) -> list[Any]:
    """The first ``count`` rows; a filter value the database refuses is a 400."""
    try:
        return list(queryset[:count])
    except DataError as exc:  # e.g. a filter value out of the column's range
        raise ValidationError(
            {"filters": ["A filter value is out of range."]}, code="invalid_filter"
        ) from exc


def read_page(
    service: SyncHooks,
    position: Position,
    limit: int,
    *,
    since: datetime.datetime | None = None,
    params: Mapping[str, Any] | None = None,
    using: str | None = None,
) -> Page:
    """One page of ``service``'s domain after ``position``, at most ``limit`` items.

    Read on ``using``, by default ``service.get_pull_database()``: a hot standby of the
    domain's database, or the database itself. A standby that cannot serve the page
    leaves it to the domain's database (``service.using``).

    Raises:
        InvalidCursor: ``position`` belongs to another database.
        CursorExpired: a tombstone purge removed rows ``position`` still needs, or
            ``position`` belongs to another epoch of the database (a restore, a lost
            history, a reset).
    """
    reader = service.get_pull_database() if using is None else using

    def read(alias: str) -> Page:
        return read_page_on(alias, service, position, limit, since, params or {})

    return read_with_fallback(service.using, reader, read)


def read_page_on(
    alias: str,
    service: SyncHooks,
    position: Position,
    limit: int,
    since: datetime.datetime | None,
    params: Mapping[str, Any],
) -> Page:
    """:func:`read_page` on the server ``alias`` reaches (the domain's database or a standby).

    Raises:
        ReadOnPrimary: ``alias`` is a standby that cannot serve this page.
    """
    opened = open_page(alias, service.using, position)
    queryset = service.get_pull_queryset(params).using(alias).filter(change_seq__lt=opened.horizon)
    queryset = queryset.filter(after_position(service.model, position.seq, position.pk))
    if since is not None:
        queryset = queryset.filter(updated_at__gte=since)
    reader = service.row_reader()  # engine/rows.py: models, or columns when it can
    rows = fetch(reader.select(queryset.order_by("change_seq", "pk")), limit + 1)
    # After the rows: a purge that committed before they were read is seen here.
    check_not_purged(alias, position.purge, {service.domain.name: position.seq})
    budget, items = Budget(limit), []
    has_more = len(rows) > limit
    for row in rows[:limit]:
        item = reader.serialize(row)
        if not budget.take(item):
            has_more = True
            break
        items.append(item)
        position = Position(*reader.position(row))
    return Page(items, has_more, opened.close(position), opened.started)


def check_not_purged(using: str, mark: int, positions: Mapping[str, int]) -> None:
    """Raise :class:`CursorExpired` if a purge removed tombstones past these positions.

    Args:
        using: the database.
        mark: the cursor's purge mark; purges recorded below it were seen by its chain.
        positions: per domain, the ``change_seq`` up to which the device has read
            (negative: nothing yet, so no tombstone is needed).
    """
    needed = Q()
    for domain, seq in positions.items():
        if seq >= 0:
            needed |= Q(domain=domain, horizon_seq__gt=seq)
    if not needed:
        return
    purges = TombstonePurge.objects.using(using).filter(needed, seq__gte=mark)
    if purges.exists():
        raise CursorExpired(EXPIRED)


# -- several domains ------------------------------------------------------------------------


@dataclass
class FeedPage:
    """One page of a multi-domain feed: each domain's items, and the position after it."""

    changes: dict[str, list[dict[str, Any]]]
    has_more: bool
    position: FeedPosition
    started: datetime.datetime
    count: int = field(default=0)


class ChangeFeed:
    """The changes of several domains of one database, read as one feed.

    The feed is read in windows of the change clock. A window covers the changes below the
    horizon read when it opened and at or above the previous window's end; it is served
    domain by domain, in the order given (list parents before their children), so a page
    never holds a child whose parent's latest change comes later. When a window is done,
    the next request opens the next one: a device that follows ``next_cursor`` until
    ``has_more`` is false has seen the latest version of every record that changed before
    its last page's window opened.

    Args:
        services: one per domain, in feed order, all on the same database.
    """

    def __init__(self, services: Sequence[SyncHooks]) -> None:
        if not services:
            raise ValueError("A change feed needs at least one domain.")
        databases = {service.using for service in services}
        if len(databases) > 1:
            names = ", ".join(f"{s.domain.name} ({s.using})" for s in services)
            raise ValueError(f"The domains of one feed must share a database: {names}.")
        self.services = list(services)
        self.using = services[0].using

    @property
    def scopes(self) -> dict[str, dict[str, Any]]:
        """Each domain's tenant scope: what a feed cursor is bound to."""
        return {service.domain.name: dict(service.scope) for service in self.services}

    def read(self, position: FeedPosition, limit: int) -> FeedPage:
        """The next page after ``position``: at most ``limit`` items across domains.

        Read on the first service's ``get_pull_database()`` (a hot standby of the feed's
        database, or the database itself); a standby that cannot serve the page leaves it
        to the database.

        Raises:
            InvalidCursor: ``position`` belongs to another database.
            CursorExpired: a tombstone purge removed rows ``position`` still needs, or
                ``position`` belongs to another epoch of the database.
        """
        reader = self.services[0].get_pull_database()
        return read_with_fallback(
            self.using, reader, lambda alias: self.read_on(alias, position, limit)
        )

    def read_on(self, alias: str, position: FeedPosition, limit: int) -> FeedPage:
        """:meth:`read` on the server ``alias`` reaches (the database or a standby).

        Raises:
            ReadOnPrimary: ``alias`` is a standby that cannot serve this page.
        """
        opened = open_page(alias, self.using, position)
        horizon = opened.horizon
        seen = self.seen(position)
        changes: dict[str, list[dict[str, Any]]] = {s.domain.name: [] for s in self.services}
        if not position.started:
            position = FeedPosition(0, horizon, 0, -1, None, position.purge)
        elif position.index >= len(self.services):
            upper: int = position.upper  # type: ignore[assignment]  # started
            position = FeedPosition(upper, max(horizon, upper), 0, upper - 1, None, position.purge)
        elif position.upper is not None and position.upper > horizon:
            # The window was opened on a server that had seen more than this one: its rows
            # above this horizon may not all be visible here yet.
            if opened.reading.standby:
                raise ReadOnPrimary("the feed's window ends above the standby's horizon")
            return FeedPage(changes, True, position, opened.started)
        budget, has_more = Budget(limit), False
        while position.index < len(self.services):
            service = self.services[position.index]
            wanted = budget.items
            reader = service.row_reader()
            rows = fetch(reader.select(self.window(service, position, alias)), wanted + 1)
            if wanted <= 0 and rows:  # the page is full: is there more?
                has_more = True
                break
            for row in rows[:wanted]:
                item = reader.serialize(row)
                if not budget.take(item):
                    has_more = True
                    break
                changes[service.domain.name].append(item)
                seq, pk = reader.position(row)
                position = replace(position, seq=seq, pk=pk)
            if has_more or len(rows) > wanted:
                has_more = True
                break
            position = replace(position, index=position.index + 1, seq=position.lower - 1, pk=None)
        check_not_purged(alias, position.purge, seen)
        return FeedPage(changes, has_more, opened.close(position), opened.started, budget.taken)

    def window(
        self, service: SyncHooks, position: FeedPosition, using: str | None = None
    ) -> QuerySet[Any]:
        """``service``'s rows of the window, after the position, in feed order (on
        ``using``, by default the domain's database)."""
        queryset = service.get_pull_queryset({}).using(using or service.using)
        queryset = queryset.filter(change_seq__gte=position.lower, change_seq__lt=position.upper)
        after = after_position(service.model, position.seq, position.pk)
        return queryset.filter(after).order_by("change_seq", "pk")

    def seen(self, position: FeedPosition) -> dict[str, int]:
        """Per domain, the ``change_seq`` up to which a device at ``position`` has read."""
        if not position.started:
            return {}
        upper: int = position.upper  # type: ignore[assignment]
        seen = {}
        for index, service in enumerate(self.services):
            if index < position.index:
                seen[service.domain.name] = upper - 1
            elif index == position.index:
                seen[service.domain.name] = position.seq
            else:
                seen[service.domain.name] = position.lower - 1
        return seen
