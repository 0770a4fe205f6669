"""Access changes: a user's view changed while no record did (docs/live.md#access-changes).

A worker becomes a supervisor, a technician covers another site: their next pull backfills
and removes records (docs/views.md), yet no record's ``change_seq`` moved, so nothing would
poke their streams. :func:`django_mobile_sync.live.access_changed` writes one
``AccessChange`` row at the change clock value of its transaction; every process's detector
reads the rows of a clock range in one query per tick (:func:`changed_users`), whatever the
number of streams, and pokes that user's streams with their domains that have a view. The
back end wakes the detectors as it does for a push, so the poke comes within a second on
any server.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models.functions import Greatest
from django.utils import timezone

from django_mobile_sync.records import next_change_seq

from .models import AccessChange

#: How long the rows stay: a stream that resumes with a ``Last-Event-ID`` older than that
#: gets a poke of every domain with a view (the purge floor), as if it were unknown.
RETENTION = timedelta(days=1)
#: ``AccessChange.domains`` of a change of every domain with a view.
EVERY_VIEW = ""
#: The ``user_key`` of the purge floor row.
FLOOR = ""


def access_alias() -> str:
    """The database of the ``AccessChange`` table (the router's choice, like the leases)."""
    return str(router.db_for_write(AccessChange))


def user_key(user: Any) -> str:
    """A user (or a primary key) as the streams know it."""
    return str(getattr(user, "pk", user))


def record_access_change(user: Any, domains: Iterable[str] | None, using: str) -> None:
    """The ``AccessChange`` row of :func:`django_mobile_sync.live.access_changed`, written
    in the current transaction on ``using`` (stamped with its change clock value)."""
    names = EVERY_VIEW if domains is None else ",".join(sorted(set(domains)))
    AccessChange.objects.using(using).create(
        user_key=user_key(user), domains=names, seq=next_change_seq(using)
    )


CHANGED_USERS_SQL = (
    "SELECT user_key, domains FROM {table} WHERE seq >= %s AND seq < %s AND user_key <> %s"
)


def changed_users(using: str, start: int, end: int) -> dict[str, set[str] | None]:
    """The users whose access changed in ``[start, end)`` of the clock of ``using``: the
    domains named, or ``None`` for every domain with a view."""
    found: dict[str, set[str] | None] = {}
    connection = connections[using]
    table = connection.ops.quote_name(AccessChange._meta.db_table)
    with connection.cursor() as cursor:  # at every read of the detector: no ORM
        cursor.execute(CHANGED_USERS_SQL.format(table=table), [start, end, FLOOR])
        rows = cursor.fetchall()
    for key, names in rows:
        if names == EVERY_VIEW or found.get(key, set()) is None:
            found[key] = None
        else:
            found.setdefault(key, set()).update(names.split(","))  # type: ignore[union-attr]
    return found


def changed_since(using: str, key: str, start: int) -> bool:
    """Whether the access of user ``key`` changed at or after ``start``, or may have (the
    rows from there on were purged)."""
    rows = AccessChange.objects.using(using).filter(user_key__in=[key, FLOOR], seq__gte=start)
    return rows.exists()


def purge_access_changes(using: str) -> None:
    """Delete the rows older than :data:`RETENTION`; the floor keeps their highest ``seq``."""
    rows = AccessChange.objects.using(using).exclude(user_key=FLOOR)
    old = rows.filter(created_at__lt=timezone.now() - RETENTION)
    last = old.order_by("-seq").values_list("seq", flat=True).first()
    if last is None:
        return
    with transaction.atomic(using=using):
        floors = AccessChange.objects.using(using).filter(user_key=FLOOR)
        if not floors.update(seq=Greatest("seq", last)):
            floors.create(user_key=FLOOR, seq=last)
        old.filter(seq__lte=last).delete()
