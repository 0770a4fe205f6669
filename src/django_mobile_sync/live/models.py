"""``StreamLease``: one row per open stream, so ``MAX_STREAMS_PER_USER`` holds across
processes and servers. A process renews the leases of its streams every half heartbeat; a
stream that ends deletes its own, and a crashed process's expire within a heartbeat."""

from __future__ import annotations

from django.db import models


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
