"""The tables of the WatermelonDB adapter: the checkpoints its pulls hand out as ``timestamp``,
and the pushes made with each (see :mod:`.checkpoints`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class WatermelonCheckpoint(models.Model):
    """A WatermelonDB ``timestamp``: what one pull was served for, and where the next starts.

    The primary key is the number WatermelonDB stores, random and below ``2**53`` (see
    :mod:`django_mobile_sync.watermelondb.checkpoints`). A pull or push presenting it is served
    incrementally only for the same user and the same state, compared in full.
    """

    id = models.BigIntegerField(primary_key=True)
    user_key = models.CharField(max_length=150, help_text="The primary key of the user.")
    state = models.TextField(
        help_text="The database, its epoch, and each table's domain and tenant scope (JSON)."
    )
    view_keys = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per table whose domain has a view, the view keys the device holds records "
        "of (docs/views.md): the next pull diffs them with the user's keys.",
    )
    position = models.BigIntegerField(help_text="The change clock value the next pull reads from.")
    horizon = models.BigIntegerField(
        help_text="The pull's horizon: the scope's rows below it were served (see docs/cursor.md)."
    )
    own_seqs = models.JSONField(
        default=list,
        blank=True,
        help_text="Change clock values of the device's own pushes not served back yet, "
        "carried over from the checkpoint it presented.",
    )
    predecessor = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The checkpoint the device presented: deleted once this one is presented.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "WatermelonDB checkpoint"

    def __str__(self) -> str:
        return f"WatermelonDB checkpoint {self.pk} at {self.position}"

    def serves(self, state: str, clock: int) -> bool:
        """Whether this checkpoint can be read incrementally in ``state``, at ``clock``.

        ``clock`` is the change clock's next value: a checkpoint past it was read from a
        history the database has lost (a restore).
        """
        return self.state == state and self.horizon <= clock


class WatermelonPush(models.Model):
    """A WatermelonDB push: the checkpoint it was made with (``last_pulled_at``), and the
    change clock value of its writes.

    Only the device that received a checkpoint holds it, so these are that device's own
    writes: a pull or push with the checkpoint does not take them for changes made by others.
    Written in the push's transaction; purged with the checkpoints.
    """

    checkpoint = models.BigIntegerField(
        db_index=True, help_text="The WatermelonDB timestamp (checkpoint) the push was made with."
    )
    change_seq = models.BigIntegerField(
        help_text="The change clock value of the push's writes (see docs/cursor.md)."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "WatermelonDB push"

    def __str__(self) -> str:
        return f"WatermelonDB push at {self.change_seq} with checkpoint {self.checkpoint}"
