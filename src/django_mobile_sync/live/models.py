"""The live app's tables.

- ``StreamLease``: one row per open stream, so ``MAX_STREAMS_PER_USER`` holds across
  processes and servers. A process renews the leases of its streams every half heartbeat; a
  stream that ends deletes its own, and a crashed process's expire within a heartbeat.
- ``AccessChange``: one row per call of :func:`django_mobile_sync.live.access_changed` (a
  user's role, teams or sites changed, so their view changed without any record changing),
  at the change clock value of its transaction, so that every process's detector reads it in
  the same range query as the records (docs/live.md#access-changes).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class StreamLease(models.Model):
    """An open stream of one user, held by one process until ``expires_at``."""

    user_key = models.CharField(max_length=150, db_index=True)
    holder = models.CharField(max_length=64, db_index=True, help_text="The process.")
    opened_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "stream lease"

    def __str__(self) -> str:
        return f"stream of {self.user_key} ({self.holder})"


class AccessChange(models.Model):
    """What one user may see changed (their view keys): their streams are poked.

    A row with an empty ``user_key`` is the purge floor: access changes below its ``seq``
    were deleted, so a ``Last-Event-ID`` from before it is treated as old.
    """

    user_key = models.CharField(max_length=150, help_text="The user's primary key, as text.")
    domains = models.TextField(
        blank=True, help_text="Comma-separated domain names; empty: every domain with a view."
    )
    seq = models.BigIntegerField(help_text="The change clock value of its transaction.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "access change"
        indexes = [
            models.Index(fields=["seq"], name="mobile_sync_live_access_seq"),
            models.Index(fields=["user_key", "seq"], name="mobile_sync_live_access_user"),
        ]

    def __str__(self) -> str:
        return f"access of user {self.user_key} at {self.seq}"
