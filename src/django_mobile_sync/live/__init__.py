"""Live streams, ``GET {prefix}stream/``: devices hear of changes within a second.

Add ``"django_mobile_sync.live"`` to ``INSTALLED_APPS`` (after ``"django_mobile_sync"``) and
serve the project on an ASGI server (docs/live.md). A stream sends ``ready``, then a ``poke``
naming the domains that changed in the user's tenant, and heartbeat comments; it carries no
record data: the device pulls as always. One detector per process reads the change clock and
fans out to every stream it holds; the back end (``LIVE_BACKEND``) only wakes it up.

:func:`access_changed` pokes a user's streams when what they may see changed while no record
did (a role, a team: docs/views.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["DEFAULTS", "access_changed"]

#: The ``MOBILE_SYNC`` keys of the app, with their defaults (declared when it is ready).
DEFAULTS = {
    # Seconds between heartbeat comments of a stream (and the lease of a stream: a dead
    # connection stops counting toward MAX_STREAMS_PER_USER within one heartbeat).
    "STREAM_HEARTBEAT": 15,
    # Open streams one user may hold, across every process and server; one more is a 429.
    "MAX_STREAMS_PER_USER": 10,
    # What wakes the detector when another process commits: "poll" (read the change clock
    # every LIVE_POLL_INTERVAL seconds; always works), "postgres" (LISTEN/NOTIFY on
    # LIVE_DATABASE) or "redis" (pub/sub on LIVE_REDIS_URL).
    "LIVE_BACKEND": "poll",
    "LIVE_POLL_INTERVAL": 0.25,
    # With "postgres" or "redis": the change clock is still read this often, so a lost
    # notification costs latency, never a change.
    "LIVE_SAFETY_INTERVAL": 5.0,
    # With "postgres": the alias of a direct connection to the primary (not a hot standby,
    # not PgBouncer in transaction mode), on which the detector LISTENs.
    "LIVE_DATABASE": "default",
    # With "redis": the server's URL (redis://host:6379/0).
    "LIVE_REDIS_URL": None,
    # The channel name of NOTIFY and of Redis pub/sub.
    "LIVE_CHANNEL": "mobile_sync_live",
}


def access_changed(user: Any, domains: Iterable[str] | None = None) -> None:
    """Poke every stream of ``user``, on every server and with every back end, within a
    second: what they may see changed (their role, teams or sites: their view keys, see
    docs/views.md) though no record did. Their devices pull, and the pull backfills and
    removes. Call it where that access is stored, inside the transaction that changes it
    if there is one: the poke follows its commit, and a rolled-back change pokes no one.

    Without the live app in ``INSTALLED_APPS`` there are no streams to poke: it does
    nothing.

    Args:
        user: the user, or their primary key.
        domains: the domains whose view changed; default: every domain with a view.
    """
    from django.apps import apps
    from django.db import transaction

    if not apps.is_installed("django_mobile_sync.live"):
        return

    from .access import access_alias, record_access_change  # the models need apps ready
    from .backends import announce

    using = access_alias()
    with transaction.atomic(using=using):
        record_access_change(user, domains, using)
        transaction.on_commit(lambda: announce(using, ["access"]), using=using)
