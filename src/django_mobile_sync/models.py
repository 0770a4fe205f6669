"""The app's own models (clock, idempotency, audit and batch logs, purges, throttle counters),
and what a project's synced models need from
:mod:`django_mobile_sync.records`: ``SyncableModelMixin``, ``TextMobileIdField`` and
``RewriteHexUUIDs``, importable from here as documented.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .records import (
    STAMP_FIELDS,
    AllObjectsManager,
    RewriteHexUUIDs,
    SyncableModelMixin,
    SyncManager,
    SyncQuerySet,
    TextMobileIdField,
    new_text_id,
    tenant_field_names,
)

__all__ = [
    "STAMP_FIELDS",
    "AllObjectsManager",
    "ChangeClock",
    "IdempotencyRecord",
    "RewriteHexUUIDs",
    "SyncBatch",
    "SyncConflict",
    "SyncManager",
    "SyncQuerySet",
    "SyncableModelMixin",
    "TextMobileIdField",
    "ThrottleCounter",
    "TombstonePurge",
    "new_text_id",
    "tenant_field_names",
]


class ChangeClock(models.Model):
    """The change counter on databases without transaction ids (SQLite)."""

    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "change clock"

    def __str__(self) -> str:
        return f"change clock at {self.value}"


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one user on one domain, and the response it produced."""

    RUNNING, DONE = "running", "done"

    user_key = models.CharField(max_length=150)
    domain = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(
        max_length=10, default=RUNNING, choices=[(RUNNING, "running"), (DONE, "done")]
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    hits = models.PositiveIntegerField(default=0, help_text="Replays served.")
    created_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_key", "domain", "key"], name="mobile_sync_idempotency_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.domain}:{self.key}"


class SyncConflict(models.Model):
    """Audit log: one stale push entry and how it was settled."""

    domain = models.CharField(max_length=100, db_index=True)
    model = models.CharField(max_length=150)
    mobile_id = models.CharField(max_length=64, db_index=True)  # a UUID or a text id
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    device_id = models.CharField(max_length=255, blank=True, db_index=True)
    client_version = models.PositiveIntegerField()
    server_version = models.PositiveIntegerField()
    client_data = models.JSONField(default=dict)
    server_data = models.JSONField(default=dict)
    resolution = models.CharField(max_length=50, db_index=True)
    result_data = models.JSONField(null=True, blank=True)
    scope = models.JSONField(
        default=dict,
        blank=True,
        help_text="The record's tenant: its tenant fields' values (primary keys).",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.domain} {self.mobile_id} ({self.resolution})"


class SyncBatch(models.Model):
    """Batch log: one push, with its counts per status (sync analytics)."""

    domain = models.CharField(max_length=100, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    device_id = models.CharField(max_length=255, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    entries = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    change_seq = models.BigIntegerField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The change clock value of the push's writes (see docs/cursor.md).",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "sync batches"

    def __str__(self) -> str:
        return f"{self.domain} batch of {self.entries} at {self.created_at:%Y-%m-%d %H:%M}"


class TombstonePurge(models.Model):
    """A purge of tombstones: cursors below ``horizon_seq`` must resync (410).

    A row of the domain :attr:`RESET` is a reset of the whole database (``manage.py
    sync_reset``): every cursor issued before it must resync.
    """

    #: The ``domain`` of a reset row.
    RESET = "*"

    domain = models.CharField(max_length=100, db_index=True)
    horizon_seq = models.BigIntegerField()
    seq = models.BigIntegerField(
        default=0, help_text="Change clock value of the purge (see docs/cursor.md)."
    )
    purged_before = models.DateTimeField()
    purged_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        if self.domain == self.RESET:
            return f"reset of every cursor at {self.seq}"
        return f"{self.domain} purge below {self.horizon_seq}"


class ThrottleCounter(models.Model):
    """One rate-limit counter of the database store (``THROTTLE_STORE = "database"``).

    One row per counter (a user's or a device's pushes or pulls under one rate): ``hits`` in
    the fixed window that began at ``window_start`` (Unix seconds). Counting is one atomic
    upsert that starts the count again when a new window begins; rows whose window ended are
    deleted as new windows start (see :mod:`django_mobile_sync.throttling`).
    """

    key = models.CharField(max_length=64, help_text="SHA-256 of the counter's identity.")
    window_start = models.BigIntegerField()
    expires_at = models.BigIntegerField(db_index=True)
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "throttle counter"
        constraints = [
            models.UniqueConstraint(fields=["key"], name="mobile_sync_throttle_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key[:12]}: {self.hits} hit(s) until {self.expires_at}"


class ViewMove(models.Model):
    """A record that changed view key (docs/views.md): written once per reassignment, in
    the writing transaction, at its change clock value. Users who held ``old_key`` get a
    removal at their next pull."""

    model = models.CharField(max_length=100)
    tenant = models.CharField(max_length=16)
    record = models.CharField(max_length=64)
    # A null key (unassigned) is not the key "": both exist.
    old_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    new_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    seq = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["model", "tenant", "old_key", "seq"], name="sync_move_old"),
            models.Index(fields=["model", "tenant", "seq", "id"], name="sync_move_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.record}: {self.old_key} -> {self.new_key} at {self.seq}"
