"""A page of a domain with a view (docs/views.md): its records, its removals, its backfill.

A page reads, below the horizon of the change clock as every pull does:

1. while the user's keys differ from the keys the device holds (a role or a site changed):
   removals of every record of the keys given up, then every record of the keys gained, in
   full, both by primary key in ordinary pages (``phase`` of the cursor);
2. then, merged in change clock order: the records of the user's keys changed after the
   cursor (tombstones included: a tombstone reaches only a user whose keys hold it), and
   the moves of records out of the keys the device holds (``ViewMove``): a removal, unless
   the record is back in the view (then its change comes in full).

Reads go through the view's index (tenant, key, ``change_seq``) and the moves' (tenant, old
key, seq): a worker's page costs the same in a tenant of a million records.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from ..records.clock import after_position, read_clock
from ..records.moves import move_model, tenant_digest
from ..records.storable import format_timestamp
from ..records.syncable import SyncableModelMixin, tenant_field_names
from ..records.view_keys import KeySet, ViewRule, key_q, view_rule
from .epoch import origin_of
from .pull import Budget, check_not_purged, fetch, open_page
from .replicas import read_with_fallback
from .view_cursor import GAIN, LOST, ViewPosition

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .hooks import SyncHooks

#: A move id above every other: "after every move of this seq".
LAST_ID = 2**63 - 1
#: Children of a moved parent read at once (an inherited view).
CHUNK = 500
#: What a removal reads of a record.
REMOVAL_FIELDS = ("pk", "mobile_id", "version", "updated_at", "change_seq", "deleted")


@dataclass
class ViewPage:
    """One page of a view's changes, and the position after it."""

    items: list[dict[str, Any]]
    has_more: bool
    position: ViewPosition
    started: datetime.datetime


def removal(record: SyncableModelMixin) -> dict[str, Any]:
    """A record leaving the device: its id and version, nothing else of it."""
    return {
        "mobile_id": str(record.mobile_id),
        "version": record.version,
        "deleted": True,
        "removed": True,
        "updated_at": format_timestamp(record.updated_at),
    }


def minus(path: str, kept: KeySet, dropped: KeySet) -> Q | None:
    """Records whose key is in ``kept`` and not in ``dropped`` (``None``: none can be)."""
    if dropped.everything or (not kept.everything and not kept.keys):
        return None
    return key_q(path, kept) & ~key_q(path, dropped)


def read_view_page(
    service: SyncHooks,
    position: ViewPosition,
    limit: int,
    params: Mapping[str, Any] | None = None,
    using: str | None = None,
) -> ViewPage:
    """One page of ``service``'s view after ``position``, at most ``limit`` items.

    Raises:
        InvalidCursor, CursorExpired: as :func:`~.pull.read_page`.
    """
    reader = service.get_pull_database() if using is None else using

    def read(alias: str) -> ViewPage:
        return ViewRead(alias, service, params or {}).page(position, limit)

    return read_with_fallback(service.using, reader, read)


class ViewRead:
    """One page of one user's view, read on ``alias``."""

    def __init__(self, alias: str, service: SyncHooks, params: Mapping[str, Any]) -> None:
        rule = view_rule(service.domain)
        if rule is None:
            raise ValueError(f"The domain {service.domain.name!r} has no view.")
        self.alias, self.service, self.params = alias, service, params
        self.rule: ViewRule = rule
        self.keys = service.get_view_keys()
        self.model = service.model

    def records(self) -> QuerySet[Any]:
        """The tenant's records, every key, as removals read them."""
        return self.model.sync_queryset(self.alias).filter(**self.service.scope)

    def page(self, position: ViewPosition, limit: int) -> ViewPage:
        opened = open_page(self.alias, self.service.using, position.rows)
        horizon = opened.horizon
        seen = position.seq if position.mseq is None else min(position.seq, position.mseq)
        if not position.started:  # moves before the first page are in its records already
            position = replace(position, keys=self.keys, mseq=horizon - 1, mid=LAST_ID)
        elif not position.phase and position.keys != self.keys:
            position = replace(position, phase=LOST, target=self.keys, ppk=None)
        elif position.phase and position.target != self.keys:  # changed again meanwhile
            held = position.keys.union(position.target)  # type: ignore[union-attr, arg-type]
            position = replace(position, keys=held, phase=LOST, target=self.keys, ppk=None)
        budget = Budget(limit)
        items: list[dict[str, Any]] = []
        has_more = False
        if position.phase == LOST:
            position, has_more = self.lost(position, budget, items)
        if not has_more and position.phase == GAIN:
            position, has_more = self.gain(position, budget, items)
        if not has_more:
            position, has_more = self.changes(position, budget, items, horizon)
        check_not_purged(self.alias, position.purge, {self.service.domain.name: seen})
        mseq = position.mseq if position.mseq is not None else -1
        # A retired key set matters until every move below its ``until`` is served: one of
        # ``mseq`` may be served in part, or others of the same ``seq`` may follow.
        retired = tuple((keys, until) for keys, until in position.retired if until > mseq)
        position = replace(
            position,
            retired=retired,
            purge=max(position.purge, horizon),
            origin=origin_of(self.service.using, opened.reading),
        )
        return ViewPage(items, has_more, position, opened.started)

    # -- a change of the user's keys --------------------------------------------------------
    def lost(
        self, position: ViewPosition, budget: Budget, items: list[dict[str, Any]]
    ) -> tuple[ViewPosition, bool]:
        """Removals of the records of the keys given up; then the keys are retired."""
        held, target = position.keys, position.target
        assert held is not None and target is not None
        which = minus(self.rule.path, held, target)
        if which is not None:
            rows = self.records().filter(which)
            rows = rows.filter(Q(deleted=False) | Q(change_seq__gt=position.seq))
            if position.ppk is not None:
                rows = rows.filter(pk__gt=position.ppk)
            found = fetch(rows.order_by("pk").only(*REMOVAL_FIELDS[1:]), budget.items + 1)
            for row in found:
                if budget.items <= 0 or not budget.take(item := removal(row)):
                    return position, True
                items.append(item)
                position = replace(position, ppk=row.pk)
        # Moves of the records given up that committed before this read still matter.
        until = read_clock(self.alias).clock
        retired = (*position.retired, (held, until))
        return replace(position, phase=GAIN, ppk=None, retired=retired), False

    def gain(
        self, position: ViewPosition, budget: Budget, items: list[dict[str, Any]]
    ) -> tuple[ViewPosition, bool]:
        """The records of the keys gained that did not change after the cursor, in full
        (those that did come with the changes)."""
        held, target = position.keys, position.target
        assert held is not None and target is not None
        which = minus(self.rule.path, target, held)
        if which is not None:
            rows = self.service.get_pull_queryset(self.params).using(self.alias).filter(which)
            rows = rows.filter(deleted=False).exclude(
                after_position(self.model, position.seq, position.pk)
            )
            if position.ppk is not None:
                rows = rows.filter(pk__gt=position.ppk)
            reader = self.service.row_reader()  # engine/rows.py: columns when it can
            for row in fetch(reader.select(rows.order_by("pk")), budget.items + 1):
                item = reader.serialize(row)
                if budget.items <= 0 or not budget.take(item):
                    return position, True
                items.append(item)
                position = replace(position, ppk=reader.position(row)[1])
        return replace(position, keys=target, target=None, phase="", ppk=None), False

    # -- the changes ------------------------------------------------------------------------
    def changes(
        self, position: ViewPosition, budget: Budget, items: list[dict[str, Any]], horizon: int
    ) -> tuple[ViewPosition, bool]:
        """The view's changes and the moves out of it, merged in change clock order."""
        keys = position.keys
        assert keys is not None
        wanted = max(budget.items, 0)
        rows_query = self.service.get_pull_queryset(self.params).using(self.alias)
        rows_query = rows_query.filter(key_q(self.rule.path, keys), change_seq__lt=horizon)
        rows_query = rows_query.filter(after_position(self.model, position.seq, position.pk))
        reader = self.service.row_reader()  # engine/rows.py: columns when it can
        rows = fetch(reader.select(rows_query.order_by("change_seq", "pk")), wanted + 1)
        moves = self.moves(position, horizon, wanted + 1)
        gone = self.gone(moves[:wanted], keys)
        merged = sorted(
            [(reader.position(row)[0], 0, row) for row in rows[:wanted]]
            + [(move.seq, 1, move) for move in moves[:wanted]],
            key=lambda pair: pair[:2],
        )
        more = len(rows) > wanted or len(moves) > wanted
        for seq, kind, value in merged:
            if kind == 0:
                item = reader.serialize(value)
                if budget.items <= 0 or not budget.take(item):
                    return position, True
                items.append(item)
                position = replace(position, seq=seq, pk=reader.position(value)[1])
                continue
            position, done = self.serve_move(value, gone, position, budget, items)
            if not done:
                return position, True
        if not more:  # every record and every move below the horizon is read
            last = max(position.mseq or -1, horizon - 1)
            position = replace(position, mseq=last, mid=LAST_ID, cpk=None)
            position = replace(position, seq=max(position.seq, horizon - 1), pk=None)
        return position, more

    def serve_move(
        self,
        move: Any,
        gone: dict[str, SyncableModelMixin],
        position: ViewPosition,
        budget: Budget,
        items: list[dict[str, Any]],
    ) -> tuple[ViewPosition, bool]:
        """What one move sends (``gone``: :meth:`gone` of the page's moves); ``False`` if
        the page filled up first."""
        if self.rule.via:
            return self.children(move, position, budget, items)
        record = gone.get(move.record)
        if record is not None:
            if budget.items <= 0 or not budget.take(item := removal(record)):
                return position, False
            items.append(item)
        return replace(position, mseq=move.seq, mid=move.pk, cpk=None), True

    def held_moves(self, position: ViewPosition) -> Q | None:
        """The moves that may concern the device: out of the keys it holds (or held:
        ``retired``), and for an inherited view into its keys (the children arrive)."""
        keys = position.keys
        assert keys is not None
        held = Q(pk__in=[]) if keys.everything else key_q("old_key", keys)
        for retired, until in position.retired:
            moved = key_q("old_key", retired)
            if self.rule.via:  # children that entered those keys then (see children())
                moved |= key_q("new_key", retired)
            held |= moved & Q(seq__lt=until)
        if self.rule.via and not keys.everything:
            held |= key_q("new_key", keys)
        return None if held == Q(pk__in=[]) else held

    def moves(self, position: ViewPosition, horizon: int, count: int) -> list[Any]:
        """The moves after the cursor that may concern the device, below the horizon."""
        held = self.held_moves(position)
        if held is None or count <= 0:
            return []
        owner, scope = self.rule.owner, self.service.scope
        tenant = {name: scope.get(name) for name in tenant_field_names(owner)}
        mseq = -1 if position.mseq is None else position.mseq
        after = Q(seq__gt=mseq) | Q(seq=mseq, pk__gt=position.mid)
        if position.cpk is not None:  # a move served in part
            after |= Q(pk=position.mid)
        query = (
            move_model()
            .objects.using(self.alias)
            .filter(
                after,
                held,
                model=owner._meta.label_lower,
                tenant=tenant_digest(tenant),
                seq__lt=horizon,
            )
        )
        return list(query.order_by("seq", "pk")[:count])

    def gone(self, moves: list[Any], keys: KeySet) -> dict[str, SyncableModelMixin]:
        """The moved records no longer in the view, by the moves' ``record``."""
        if not moves or self.rule.via:
            return {}
        records = self.records().filter(pk__in={move.record for move in moves})
        in_view = set(records.filter(key_q(self.rule.path, keys)).values_list("pk", flat=True))
        return {
            str(row.pk): row for row in records.only(*REMOVAL_FIELDS[1:]) if row.pk not in in_view
        }

    def children(
        self, move: Any, position: ViewPosition, budget: Budget, items: list[dict[str, Any]]
    ) -> tuple[ViewPosition, bool]:
        """The records of an inherited view whose parent moved: removals for those that
        left, in full for those that entered; ``False`` if the page filled up first."""
        keys = position.keys
        assert keys is not None
        was_held = keys.holds(move.old_key) or any(
            retired.holds(move.old_key) and move.seq < until for retired, until in position.retired
        )
        enter = not keys.holds(move.old_key)
        then = [retired for retired, until in position.retired if move.seq < until]
        if then:  # a move made before a change of the user's keys was read: the device
            # held the keys it gave up then, and the gain brought the records of the keys
            # gained whose key was not one of those (the parent's key after the move)
            enter = not then[0].holds(move.old_key) and (
                then[0].holds(move.new_key) or not keys.holds(move.new_key)
            )
        children = self.records().filter(**{self.rule.via: move.record}).order_by("pk")
        reader = self.service.row_reader()
        after = position.cpk if (position.mseq, position.mid) == (move.seq, move.pk) else None
        while True:
            chunk = children if after is None else children.filter(pk__gt=after)
            found = list(chunk.only(*REMOVAL_FIELDS[1:])[:CHUNK])
            visible = chunk.filter(pk__in=[c.pk for c in found]).filter(
                key_q(self.rule.path, keys)
            )
            in_view = set(visible.values_list("pk", flat=True))
            full = {}
            if enter:  # the children enter with their parent
                # (but those changed after the records' position come with the records)
                entering = [
                    c.pk
                    for c in found
                    if c.pk in in_view and not c.deleted and c.change_seq <= position.seq
                ]
                entered = reader.select(self.service.get_queryset().filter(pk__in=entering))
                full = {reader.position(row)[1]: row for row in entered}
            for child in found:
                item = None
                if child.pk in full:
                    item = reader.serialize(full[child.pk])
                elif child.pk not in in_view and was_held:
                    item = removal(child)
                if item is not None:
                    if budget.items <= 0 or not budget.take(item):
                        return position, False
                    items.append(item)
                position = replace(position, mseq=move.seq, mid=move.pk, cpk=child.pk)
                after = child.pk
            if len(found) < CHUNK:
                break
        return replace(position, mseq=move.seq, mid=move.pk, cpk=None), True
