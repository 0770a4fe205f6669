"""Purging tombstones and expired idempotency records (used by the management commands)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .clock import next_change_seq
from .conf import sync_settings
from .domains import SyncDomain
from .models import IdempotencyRecord, TombstonePurge


def purge_tombstones(
    domain: SyncDomain, using: str = "default", retention: timedelta | None = None
) -> int:
    """Hard-delete tombstones older than the retention; record the horizon for the 410."""
    retention = sync_settings.TOMBSTONE_RETENTION if retention is None else retention
    before = timezone.now() - retention
    model: Any = domain.model_class
    with transaction.atomic(using=using):
        expired = model.sync_queryset(using).filter(deleted=True, deleted_at__lt=before)
        horizon = expired.aggregate(horizon=Max("change_seq"))["horizon"]
        if horizon is None:
            return 0
        count, _ = expired.hard_delete()
        TombstonePurge.objects.using(using).create(
            domain=domain.name,
            horizon_seq=horizon + 1,
            seq=next_change_seq(using),
            purged_before=before,
            purged_count=count,
        )
    return int(count)


def purge_idempotency_records(using: str = "default") -> int:
    count, _ = (
        IdempotencyRecord.objects.using(using).filter(expires_at__lte=timezone.now()).delete()
    )
    return int(count)
