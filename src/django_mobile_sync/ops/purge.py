"""Purging tombstones and expired idempotency records (used by the management commands)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..conf import sync_settings
from ..domains import SyncDomain, get_domains
from ..models import IdempotencyRecord, TombstonePurge
from ..records import move_model, next_change_seq, reference_fields, synced_children, view_rule


def purge_tombstones(
    domain: SyncDomain, using: str = "default", retention: timedelta | None = None
) -> int:
    """Hard-delete tombstones older than the retention; record the horizon for the 410.

    A tombstone that synced records still point to (their own tombstones, not purged yet) is
    kept until they are gone: deleting it would make Django's collector delete them unseen.
    Purge children's domains first (:func:`purge_order`).
    """
    retention = sync_settings.TOMBSTONE_RETENTION if retention is None else retention
    before = timezone.now() - retention
    model: Any = domain.model_class
    purge_view_moves(domain, using, before)
    with transaction.atomic(using=using):
        expired = model.sync_queryset(using).filter(deleted=True, deleted_at__lt=before)
        for field in synced_children(model):
            child: Any = field.model
            pointing = child.sync_queryset(using).filter(**{f"{field.attname}__isnull": False})
            expired = expired.exclude(pk__in=pointing.values(field.attname))
        horizon = expired.aggregate(horizon=Max("change_seq"))["horizon"]
        if horizon is None:
            return 0
        _total, per_model = expired.hard_delete()
        count = per_model.get(model._meta.label, 0)
        TombstonePurge.objects.using(using).create(
            domain=domain.name,
            horizon_seq=horizon + 1,
            seq=next_change_seq(using),
            purged_before=before,
            purged_count=count,
        )
    return int(count)


def purge_view_moves(domain: SyncDomain, using: str, before: datetime) -> int:
    """Delete the moves between view keys (docs/views.md) of ``domain``'s model older than
    ``before``; record the horizon for every domain that reads them (their older cursors
    answer ``410``, as after a tombstone purge)."""
    rule = view_rule(domain)
    if rule is None:
        return 0
    readers = [d for d in get_domains().values() if (r := view_rule(d)) and r.owner is rule.owner]
    with transaction.atomic(using=using):
        expired = (
            move_model()
            .objects.using(using)
            .filter(model=rule.owner._meta.label_lower, created_at__lt=before)
        )
        horizon = expired.aggregate(horizon=Max("seq"))["horizon"]
        if horizon is None:
            return 0
        count, _ = expired.delete()
        seq = next_change_seq(using)
        for reader in readers:
            TombstonePurge.objects.using(using).create(
                domain=reader.name,
                horizon_seq=horizon + 1,
                seq=seq,
                purged_before=before,
                purged_count=0,
            )
    return int(count)


def purge_order(domains: Iterable[SyncDomain]) -> list[SyncDomain]:
    """``domains`` with children before their parents (else in the given order): the order
    to purge them in."""
    remaining, ordered = list(domains), []
    while remaining:
        referenced = {
            model
            for d in remaining
            for model in reference_fields(d).values()
            if model is not d.model_class
        }
        ready = [d for d in remaining if d.model_class not in referenced]
        chosen = ready[0] if ready else remaining[0]
        ordered.append(chosen)
        remaining.remove(chosen)
    return ordered


def purge_idempotency_records(using: str = "default") -> int:
    count, _ = (
        IdempotencyRecord.objects.using(using).filter(expires_at__lte=timezone.now()).delete()
    )
    return int(count)
