"""Views (docs/views.md) on the WatermelonDB endpoint.

A table whose domain has a view sends only the records of the user's keys. Records that
left the view since the checkpoint are listed in ``deleted`` (WatermelonDB drops its copy;
the record itself still exists); the children that entered with their parent (an inherited
view) come in ``updated``. A change of the user's keys is part of the checkpoint's state:
the next pull is a replacement sync, after which the device holds exactly its view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from django_mobile_sync.records import (
    key_q,
    move_model,
    tenant_digest,
    tenant_field_names,
    view_rule,
)

if TYPE_CHECKING:
    from django_mobile_sync.service import SyncService


def in_view(service: SyncService, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """``queryset`` narrowed to the user's view (unchanged for a domain without one)."""
    rule = view_rule(service.domain)
    if rule is None:
        return queryset
    return queryset.filter(key_q(rule.path, service.get_view_keys()))


def view_state(service: SyncService) -> list[Any]:
    """What a checkpoint's state records of the table's view: the user's keys."""
    if view_rule(service.domain) is None:
        return []
    return [service.get_view_keys().to_wire()]


@dataclass
class Moves:
    """What the moves after a checkpoint change for one table: the ids that left the view,
    the records that entered it (new to the device: ``created``), the children that
    entered with their parent, the newest move."""

    removed: list[str] = field(default_factory=list)
    entered: set[Any] = field(default_factory=set)
    entering: QuerySet[Any] | None = None
    newest: int | None = None


def moves_since(service: SyncService, alias: str, start: int, horizon: int) -> Moves:
    """The records that left the view (ids) and the children that entered with their
    parent, by the moves with ``start <= seq < horizon``."""
    rule = view_rule(service.domain)
    keys = service.get_view_keys()
    if rule is None or keys.everything:
        return Moves()
    held = key_q("old_key", keys) | key_q("new_key", keys)
    tenant = {name: service.scope.get(name) for name in tenant_field_names(rule.owner)}
    moves = list(
        move_model()
        .objects.using(alias)
        .filter(
            held,
            model=rule.owner._meta.label_lower,
            tenant=tenant_digest(tenant),
            seq__gte=start,
            seq__lt=horizon,
        )
        .values_list("record", "old_key", "seq")
        .order_by("seq", "pk")
    )
    if not moves:
        return Moves()
    found = Moves(newest=max(seq for _record, _old, seq in moves))
    records = service.model.sync_queryset(alias).filter(**service.scope)
    visible = key_q(rule.path, keys)
    first: dict[str, str | None] = {}  # each record's key at the checkpoint
    for record, old, _seq in moves:
        first.setdefault(record, old)
    if not rule.via:
        moved = records.filter(pk__in=set(first))
        gone = moved.exclude(visible).values_list("mobile_id", flat=True)
        found.removed = [str(mobile_id) for mobile_id in gone]
        outside = [record for record, old in first.items() if not keys.holds(old)]
        found.entered = set(moved.filter(visible, pk__in=outside).values_list("pk", flat=True))
        return found
    left = {record for record, old, _seq in moves if keys.holds(old)}
    entered = {record for record, old, _seq in moves if not keys.holds(old)} - left
    children = records.filter(**{f"{rule.via}__in": left}).exclude(visible)
    found.removed = [str(m) for m in children.values_list("mobile_id", flat=True)]
    entering = service.get_pull_queryset({}).using(alias).filter(visible, deleted=False)
    found.entering = entering.filter(**{f"{rule.via}__in": entered}, change_seq__lt=start)
    return found
