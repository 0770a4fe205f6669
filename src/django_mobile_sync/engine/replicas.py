"""Pulls from hot standbys: where a pull reads, and when it reads the primary instead.

``MOBILE_SYNC["PULL_DATABASES"]`` maps the alias of a database that pushes write to (a
PostgreSQL primary) to the aliases of its hot standbys (streaming replicas): pulls of the
domains stored on that primary read one of them, chosen at random for each page
(:func:`pull_database`). Pushes and every other write stay on the primary.

A page is read on a standby only when the standby can serve it without skipping a change
(see the documentation's "The change cursor" page, "Pulls from a hot standby"):

- the standby is in recovery and has the primary's system identifier, as last read on the
  primary by this process (a promoted replica, another cluster or a misconfigured alias
  is never read; the first pull of each process reads the primary);
- it has replayed what the cursor has seen, and agrees with the cursor's epoch;
- it answers (a standby that is down or cancels the query on a conflict with recovery).

Otherwise the page is read on the primary (:func:`read_with_fallback`). Every read of one
page (the horizon, the rows, the purge check) runs in one transaction on one server.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.db import DatabaseError, connections, transaction

from ..conf import sync_settings
from ..exceptions import ReadOnPrimary
from ..records.clock import ClockReading

logger = logging.getLogger("django_mobile_sync")

T = TypeVar("T")

#: Per primary alias, its system identifier as last read there by this process.
primary_clusters: dict[str, str] = {}


def pull_databases(using: str) -> list[str]:
    """The hot standbys ``PULL_DATABASES`` names for the primary ``using`` (maybe none)."""
    configured = sync_settings.PULL_DATABASES.get(using, ())
    return [configured] if isinstance(configured, str) else list(configured)


def pull_database(using: str) -> str:
    """The alias a pull of data stored on ``using`` reads: one of its standbys, or itself."""
    standbys = pull_databases(using)
    return random.choice(standbys) if standbys else using


def check_reader(alias: str, primary: str, reading: ClockReading) -> None:
    """Raise :class:`ReadOnPrimary` unless ``alias`` may serve a page of ``primary``.

    A read on the primary itself records its system identifier, which standbys must share.
    """
    if alias == primary:
        if reading.cluster:
            primary_clusters[primary] = reading.cluster
        return
    if not reading.standby:
        raise ReadOnPrimary(f"{alias!r} is not in recovery: it is not a hot standby")
    known = primary_clusters.get(primary)
    if known != reading.cluster:
        raise ReadOnPrimary(
            f"{alias!r} has the system identifier {reading.cluster}, the primary "
            f"{primary!r} {known or 'has not been read yet'}"
        )


def read_with_fallback(primary: str, reader: str, read: Callable[[str], T]) -> T:
    """``read(reader)`` in one transaction, or ``read(primary)`` when the reader cannot serve.

    ``read`` must raise :class:`ReadOnPrimary` when the reader may not serve the page.
    A reader that fails with a database error (down, a query cancelled on a conflict with
    recovery, a schema it has not replayed yet) is logged and the primary serves the page.
    """
    if reader == primary:
        return read(primary)
    try:
        # One transaction: a pooler keeps one server connection for it, so the horizon and
        # the rows come from the same standby at the same point of its replay.
        with transaction.atomic(using=reader, savepoint=False):
            return read(reader)
    except ReadOnPrimary as exc:
        logger.debug("Pull page read on %r instead of %r: %s", primary, reader, exc)
    except DatabaseError as exc:
        logger.warning("Pull page read on %r: the replica %r failed: %s", primary, reader, exc)
        connections[reader].close_if_unusable_or_obsolete()
    return read(primary)


# -- what sync_doctor reports ---------------------------------------------------------------


@dataclass
class ReplicaState:
    """A standby as ``sync_doctor`` sees it (``error`` when it cannot be read)."""

    alias: str
    error: str = ""
    standby: bool = False
    cluster: str = ""
    behind_bytes: int | None = None
    feedback: str = ""


def inspect_replica(alias: str, primary_lsn: str | None) -> ReplicaState:
    """Read ``alias``'s recovery state, identity and replay position (behind ``primary_lsn``)."""
    sql = (
        "SELECT pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system())::text, "
        "pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())::bigint, "
        "current_setting('hot_standby_feedback')"
    )
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, [primary_lsn])
            standby, cluster, behind, feedback = cursor.fetchone()
    except DatabaseError as exc:
        return ReplicaState(alias, error=str(exc).strip())
    return ReplicaState(alias, "", bool(standby), cluster, behind, feedback)
