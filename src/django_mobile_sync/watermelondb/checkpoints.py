"""The ``timestamp`` WatermelonDB stores: the id of a checkpoint row, bound to what it served.

A native cursor carries its domain, tenant scope and the clock's epoch in a signed token.
WatermelonDB keeps one number, too small to carry a state and a signature. So the number is
the id of a :class:`~django_mobile_sync.models.WatermelonCheckpoint` row that stores, in
full, the user it was served to, the state it was served for (:func:`state_of`: the
database, its cluster and last reset, and each mapped table's name, domain and tenant scope
values), where the next pull starts, and per table whose domain has a view the keys the
device holds records of (O(the user's keys): the next pull diffs them with the user's keys
now, see :mod:`.visibility`). A ``last_pulled_at`` whose row is missing, belongs
to another user, or records another state is never served incrementally: the pull becomes a
replacement sync and a push carrying it is refused with ``409``. Equality is exact: no digest
can collide.

Ids are unguessable and grow: the seconds since 2024 in the high bits, 22 random bits
below (:func:`new_id`), and always above the number the device presented (WatermelonDB logs
a smaller timestamp as a server bug). Only the device that received an id holds it, so the
pushes made with it (:class:`~.models.WatermelonPush`) are that device's own: the
exemption of its own writes follows the checkpoint, never ``X-Device-Id``.

Rows stay few: a pull that changes nothing for a checkpoint gives it back; presenting a
checkpoint deletes the one it replaced (WatermelonDB only presents the latest it stored);
``manage.py purge_watermelon_checkpoints`` deletes those older than ``TOMBSTONE_RETENTION``
(answers that never reached their device). See docs/clients/watermelondb.md, "The
timestamp".
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from django_mobile_sync.conf import sync_settings
from django_mobile_sync.models import TombstonePurge

from .models import WatermelonCheckpoint, WatermelonPush

if TYPE_CHECKING:
    from django_mobile_sync.records import ClockReading
    from django_mobile_sync.service import SyncService

#: Random bits at the bottom of an id.
RANDOM_BITS = 22
#: 2024-01-01T00:00:00Z: the high bits of an id count seconds from it.
EPOCH_SECONDS = 1_704_067_200
#: The largest integer WatermelonDB keeps exactly (it parses the timestamp as a JS number).
MAX_ID = 2**53 - 1
#: A checkpoint this old is renewed by the next pull even when nothing changed, so that the
#: ones devices still use are never old enough to be purged.
RENEW_AFTER = timedelta(days=1)


def state_of(using: str, reading: ClockReading, tables: Iterable[tuple[str, SyncService]]) -> str:
    """What a pull is served for, as JSON text compared for equality.

    Args:
        using: the database the tables live in.
        reading: its clock, read now (the cluster and the last reset).
        tables: ``(table name, service)`` of every table of the request.
    """
    described = sorted(
        [
            name,
            service.domain.name,
            sorted([k, scope_value(v)] for k, v in service.scope.items()),
        ]
        for name, service in tables
    )
    state = {
        "database": using,
        "cluster": reading.cluster,
        "reset": reading.reset,
        "tables": described,
    }
    return json.dumps(state, separators=(",", ":"), sort_keys=True)


def scope_value(value: Any) -> Any:
    """A tenant field's value as JSON: a record by its primary key; ``1`` is not ``"1"``."""
    value = getattr(value, "pk", value)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def user_key(user: Any) -> str:
    """The user a checkpoint belongs to, as stored."""
    return str(getattr(user, "pk", None))


def new_id(after: int) -> int:
    """A checkpoint id above ``after``, below ``2**53``, with :data:`RANDOM_BITS` random bits.

    Past ``2**53`` (``after`` was a number of another kind) it starts again from the
    current second: WatermelonDB then logs once that the timestamp went down.
    """
    now = max(1, int(time.time()) - EPOCH_SECONDS) << RANDOM_BITS
    number = max(after + 1, now) + secrets.randbelow(2**RANDOM_BITS)
    return number if number <= MAX_ID else now + secrets.randbelow(2**RANDOM_BITS)


class Checkpoints:
    """The checkpoints of one user on one database.

    Args:
        using: the database of the mapped tables.
        user: the requesting user (``None``, or anonymous, for a request without one).
    """

    def __init__(self, using: str, user: Any) -> None:
        self.using, self.user = using, user
        self.key = user_key(user)
        self.rows = WatermelonCheckpoint.objects.using(using)

    def find(self, number: int) -> WatermelonCheckpoint | None:
        """The user's checkpoint ``number``; ``None`` if there is none (another user's
        included)."""
        return self.rows.filter(pk=number, user_key=self.key).first()

    def forget_predecessor(self, checkpoint: WatermelonCheckpoint) -> None:
        """Delete the checkpoint ``checkpoint`` replaced: its device presents the newer one."""
        if checkpoint.predecessor is None:
            return
        self.rows.filter(pk=checkpoint.predecessor, user_key=self.key).delete()
        self.rows.filter(pk=checkpoint.pk).update(predecessor=None)
        checkpoint.predecessor = None

    def own_writes(self, checkpoint: WatermelonCheckpoint) -> list[int]:
        """Change clock values of the device's own pushes not yet served back to it.

        Those made with ``checkpoint`` (:class:`~.models.WatermelonPush`), and those carried
        into it from the checkpoint it replaced.
        """
        pushes = WatermelonPush.objects.using(self.using).filter(
            checkpoint=checkpoint.pk, change_seq__gte=checkpoint.position
        )
        user_id = getattr(self.user, "pk", None)
        pushes = (
            pushes.filter(user__isnull=True) if user_id is None else pushes.filter(user_id=user_id)
        )
        pushed = {seq for seq in pushes.values_list("change_seq", flat=True) if seq is not None}
        return sorted(pushed | {int(seq) for seq in checkpoint.own_seqs})

    def mint(
        self,
        state: str,
        position: int,
        horizon: int,
        *,
        after: int,
        predecessor: int | None = None,
        own: Iterable[int] = (),
        view_keys: Mapping[str, Any] | None = None,
    ) -> WatermelonCheckpoint:
        """A new checkpoint, its id above ``after`` (the number the device presented).

        Args:
            state: :func:`state_of` the pull.
            position: where the next pull starts.
            horizon: the pull's horizon: every row of the scope below it was served.
            after: the number the device presented (0 for a first sync).
            predecessor: the checkpoint it replaces, deleted once this one is presented.
            own: change clock values of the device's own pushes at or above ``position``.
            view_keys: per table with a view, the keys the device now holds records of
                (:func:`.visibility.stored_keys`): the next pull diffs them with the user's.
        """
        for _attempt in range(8):
            checkpoint = WatermelonCheckpoint(
                id=new_id(after),
                user_key=self.key,
                state=state,
                position=position,
                horizon=horizon,
                own_seqs=sorted(seq for seq in set(own) if seq >= position),
                view_keys=dict(view_keys or {}),
                predecessor=predecessor,
            )
            try:
                with transaction.atomic(using=self.using):
                    checkpoint.save(using=self.using, force_insert=True)
            except IntegrityError:
                continue  # that id is taken: draw another
            return checkpoint
        raise RuntimeError("No free WatermelonDB checkpoint id after 8 draws.")


def is_fresh(checkpoint: WatermelonCheckpoint) -> bool:
    """Whether a pull may give ``checkpoint`` back instead of renewing it."""
    return checkpoint.created_at > timezone.now() - RENEW_AFTER


def purges_since(using: str, domains: Sequence[str], horizon: int) -> list[int]:
    """The horizons of the tombstone purges of ``domains`` recorded at or after ``horizon``.

    Purges recorded before were checked by the pull that read up to ``horizon`` (see
    docs/cursor.md, "Tombstones, retention and the purge horizon").
    """
    purges = TombstonePurge.objects.using(using).filter(domain__in=domains, seq__gte=horizon)
    return list(purges.values_list("horizon_seq", flat=True))


def purge_checkpoints(using: str = "default", retention: timedelta | None = None) -> int:
    """Delete checkpoints older than ``retention`` (``TOMBSTONE_RETENTION``); how many.

    Checkpoints in use are renewed daily (:data:`RENEW_AFTER`): older ones belong to answers
    that never reached their device, or to devices that have not pulled for that long (their
    next pull is a replacement sync). The pushes recorded as older go with them: a push is
    made with a checkpoint created before it.
    """
    retention = sync_settings.TOMBSTONE_RETENTION if retention is None else retention
    before = timezone.now() - retention
    count, _ = WatermelonCheckpoint.objects.using(using).filter(created_at__lt=before).delete()
    WatermelonPush.objects.using(using).filter(created_at__lt=before).delete()
    return int(count)
