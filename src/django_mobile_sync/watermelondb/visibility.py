"""Views (docs/views.md) on the WatermelonDB endpoint.

A table whose domain has a view sends only the records of the user's keys. The checkpoint
keeps, per such table, the keys the device holds records of (O(the user's keys), never per
record): the next pull compares them with the user's keys now, as a native cursor does.

- Records that left the view since the checkpoint are listed in ``deleted`` (WatermelonDB
  drops its copy; the record itself still exists): those whose key moved out of the keys
  (``ViewMove``), and after a change of the user's keys (a role, a site) every record of the
  keys given up.
- Records new to the device come in ``created``: those whose key moved into the view, the
  children that entered with their parent (an inherited view), and after a change of the
  user's keys every record of the keys gained, even unchanged for months. The others of
  the view's changes come in ``updated``.

A change of access is an ordinary incremental pull, streamed in chunks of rows like any
other: no replacement sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from django_mobile_sync.records import (
    EVERYTHING,
    KeySet,
    key_q,
    move_model,
    tenant_digest,
    tenant_field_names,
    view_rule,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django_mobile_sync.service import SyncService


def view_keys(service: SyncService) -> KeySet | None:
    """The user's keys of the table's view, read once per pull; ``None`` without a view."""
    if view_rule(service.domain) is None:
        return None
    return service.get_view_keys()


def in_view(service: SyncService, queryset: QuerySet[Any], keys: KeySet | None) -> QuerySet[Any]:
    """``queryset`` narrowed to ``keys`` (:func:`view_keys`; unchanged without a view)."""
    rule = view_rule(service.domain)
    if rule is None or keys is None:
        return queryset
    return queryset.filter(key_q(rule.path, keys))


def stored_keys(keys: Mapping[str, KeySet | None]) -> dict[str, Any]:
    """What a checkpoint stores of the tables' keys: ``{table: keys}``, views only."""
    return {name: held.to_wire() for name, held in sorted(keys.items()) if held is not None}


def held_keys(stored: Any, table: str) -> KeySet:
    """The keys a device holds records of in ``table``, as its checkpoint stored them.

    A table the checkpoint has no keys for was served whole (its domain had no view then).

    Raises:
        ValueError: not what :func:`stored_keys` wrote.
    """
    if not isinstance(stored, dict):
        raise ValueError("not a mapping of tables")
    return EVERYTHING if table not in stored else KeySet.from_wire(stored[table])


def minus(path: str, kept: KeySet, dropped: KeySet) -> Q | None:
    """Records whose key is in ``kept`` and not in ``dropped`` (``None``: none can be)."""
    if dropped.everything or (not kept.everything and not kept.keys):
        return None
    return key_q(path, kept) & ~key_q(path, dropped)


@dataclass
class ViewChanges:
    """What a table's view changes for the device since its checkpoint.

    Attributes:
        removed: ids to list in ``deleted``, read at plan time (tombstones included).
        leaving: live records of the keys given up: their ids go in ``deleted``, streamed.
        new: which of the window's live records are new to the device (``created``).
        entering: records new to the device that did not change since the checkpoint, in
            full (``created``), streamed.
        newest: the change clock value of the newest move read.
    """

    removed: list[str] = field(default_factory=list)
    leaving: QuerySet[Any] | None = None
    new: Q | None = None
    entering: list[QuerySet[Any]] = field(default_factory=list)
    newest: int | None = None


def view_changes(
    service: SyncService,
    alias: str,
    start: int,
    horizon: int,
    held: KeySet,
    keys: KeySet,
) -> ViewChanges:
    """What the table's view sends after a checkpoint at ``start`` (moves with
    ``start <= seq < horizon``), for a device that holds the records of ``held`` and a
    user who now sees ``keys``.

    A record is new to the device when its key at the checkpoint was not in ``held``: the
    first move after ``start`` tells a moved record's key then, the current key the others'.
    The moves read are those into or out of ``held``; a record none of them touches had
    neither its key at the checkpoint nor its key now in ``held``.
    """
    rule = view_rule(service.domain)
    if rule is None:
        return ViewChanges()
    path, via = rule.path, rule.via
    records = service.model.sync_queryset(alias).filter(**service.scope)
    live = service.get_pull_queryset({}).using(alias).filter(key_q(path, keys), deleted=False)
    found = ViewChanges()
    # After a change of access, every record of the keys given up leaves.
    if (gone := minus(path, held, keys)) is not None:
        leaving = records.filter(gone)
        found.leaving = leaving.filter(deleted=False)
        tombstones = leaving.filter(deleted=True, change_seq__gte=start)
        found.removed += [str(m) for m in tombstones.values_list("mobile_id", flat=True)]
    gained = minus(path, keys, held)
    if held.everything:  # the device held every record: none is new to it
        if gained is not None:
            found.entering.append(live.filter(gained, change_seq__lt=start))
        return found
    moves = read_moves(service, alias, start, horizon, held)
    if moves:
        found.newest = max(seq for _record, _old, seq in moves)
    first: dict[str, str | None] = {}  # each moved record's key at the checkpoint
    for record, old, _seq in moves:
        first.setdefault(record, old)
    entered = {record for record, old in first.items() if not held.holds(old)}
    had = set(first) - entered  # held by the device at the checkpoint
    # Outside both key sets now (the records of the keys given up are ``leaving``).
    outside = Q(pk__in=[]) if keys.everything else ~key_q(path, keys) & ~key_q(path, held)
    # Every record of the keys gained that did not change since the checkpoint enters,
    # even unchanged for months (those that changed come with the window).
    unchanged = live.filter(change_seq__lt=start)
    if not via:
        gone_ids = records.filter(outside, pk__in=had).values_list("mobile_id", flat=True)
        found.removed += [str(mobile_id) for mobile_id in gone_ids]
        if gained is not None:
            found.entering.append(unchanged.filter(gained))
        found.new = Q(pk__in=entered) | (~key_q(path, held) & ~Q(pk__in=set(first)))
        return found
    # An inherited view: a parent's move leaves its children's change clock as it was.
    children = records.filter(outside, **{f"{via}__in": had})
    found.removed += [str(m) for m in children.values_list("mobile_id", flat=True)]
    if gained is not None:  # but not the children of a parent the device held
        found.entering.append(unchanged.filter(gained).exclude(**{f"{via}__in": had}))
    # The children of a parent that entered the keys the device holds.
    found.entering.append(unchanged.filter(key_q(path, held), **{f"{via}__in": entered}))
    found.new = Q(**{f"{via}__in": entered}) | (
        ~key_q(path, held) & ~Q(**{f"{via}__in": set(first)})
    )
    return found


def read_moves(
    service: SyncService, alias: str, start: int, horizon: int, held: KeySet
) -> list[tuple[str, str | None, int]]:
    """``(record, old key, seq)`` of the moves into or out of ``held`` with
    ``start <= seq < horizon``, in the order they were made."""
    rule = view_rule(service.domain)
    assert rule is not None
    tenant = {name: service.scope.get(name) for name in tenant_field_names(rule.owner)}
    query = (
        move_model()
        .objects.using(alias)
        .filter(
            key_q("old_key", held) | key_q("new_key", held),
            model=rule.owner._meta.label_lower,
            tenant=tenant_digest(tenant),
            seq__gte=start,
            seq__lt=horizon,
        )
        .values_list("record", "old_key", "seq")
        .order_by("seq", "pk")
    )
    return list(query)
