"""What wakes the detector when a commit may concern a stream: ``MOBILE_SYNC["LIVE_BACKEND"]``.

- ``"poll"``: nothing to send; the detector reads the change clock every
  ``LIVE_POLL_INTERVAL`` seconds. Works everywhere (SQLite, a hot standby, PgBouncer).
- ``"postgres"``: a committing push sends one small ``NOTIFY`` after its commit
  (``changes_committed``, through ``transaction.on_commit``, in a statement of its own: the
  writer's transaction never takes the notification queue's lock); each process holds one
  ``LISTEN`` connection to ``LIVE_DATABASE``, a direct connection to the primary.
- ``"redis"``: the same through Redis pub/sub (``LIVE_REDIS_URL``).

A push (or an access change, :mod:`.access`) made by this process wakes its own detector at
once, whatever the back end. The payload names the domains only (at most a few hundred
bytes); the detector reads the clock anyway, so a lost or coalesced notification costs
latency, never a change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connections

from django_mobile_sync.conf import sync_settings

if TYPE_CHECKING:
    from .detector import Detector

logger = logging.getLogger("django_mobile_sync.live")

BACKENDS = ("poll", "postgres", "redis")

#: Seconds before a listener whose connection broke connects again.
RECONNECT_DELAY = 1.0

_redis_clients: dict[str, Any] = {}
_listener: threading.Thread | None = None
_listener_lock = threading.Lock()


def payload(domains: Sequence[str]) -> str:
    """The notification's text: the domain names, cut to stay small."""
    return ",".join(domains)[:1000]


def on_changes_committed(sender: Any, using: str, domains: Sequence[str], **kwargs: Any) -> None:
    """``changes_committed`` receiver: wake this process's detector, and the others'."""
    announce(using, domains)


def announce(using: str, domains: Sequence[str]) -> None:
    """After a commit on ``using`` (a push, an access change): wake this process's
    detector, and the others' through the back end."""
    from .detector import get_detector

    get_detector().notify()
    backend = sync_settings.LIVE_BACKEND
    try:
        if backend == "postgres" and connections[using].vendor == "postgresql":
            with connections[using].cursor() as cursor:
                cursor.execute(
                    "SELECT pg_notify(%s, %s)", [sync_settings.LIVE_CHANNEL, payload(domains)]
                )
        elif backend == "redis":
            redis_client().publish(sync_settings.LIVE_CHANNEL, payload(domains))
    except Exception:  # the push has committed: a lost wake-up costs latency only
        logger.warning("Live streams: the %s notification failed", backend, exc_info=True)


def redis_client() -> Any:
    """One Redis client per process for ``LIVE_REDIS_URL``."""
    import redis

    url = str(sync_settings.LIVE_REDIS_URL)
    if url not in _redis_clients:
        _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=5)
    return _redis_clients[url]


def start_listener(detector: Detector) -> None:
    """Start the process's listener thread for the back end (once; none for ``poll``)."""
    global _listener
    backend = sync_settings.LIVE_BACKEND
    target = {"postgres": listen_postgres, "redis": listen_redis}.get(backend)
    if target is None:
        return
    with _listener_lock:
        if _listener is not None and _listener.is_alive():
            return
        _listener = threading.Thread(
            target=keep_listening,
            args=(target, detector),
            name=f"mobile-sync-{backend}",
            daemon=True,
        )
        _listener.start()


def keep_listening(target: Any, detector: Detector) -> None:
    """Run ``target`` again after a broken connection; each start reads the clock once."""
    while not detector.stopping:
        try:
            target(detector)
        except Exception:
            logger.warning("Live streams: the listener's connection broke", exc_info=True)
        detector.notify()  # what was sent while no one listened
        time.sleep(RECONNECT_DELAY)


def listen_postgres(detector: Detector) -> None:
    """``LISTEN`` on a connection of its own to ``LIVE_DATABASE``; every notification (or a
    batch of them) wakes the detector."""
    wrapper = connections[sync_settings.LIVE_DATABASE]
    connection = wrapper.get_new_connection(wrapper.get_connection_params())
    try:
        connection.autocommit = True
        quoted = wrapper.ops.quote_name(sync_settings.LIVE_CHANNEL)
        connection.execute(f"LISTEN {quoted}")
        detector.notify()  # listening from now on: read what came before
        while not detector.stopping:
            for _notification in connection.notifies(timeout=5.0, stop_after=1):
                detector.notify()
    except DatabaseError:
        raise
    finally:
        connection.close()


def listen_redis(detector: Detector) -> None:
    """Subscribe to ``LIVE_CHANNEL`` on ``LIVE_REDIS_URL``; every message wakes the detector."""
    import redis

    client = redis.Redis.from_url(str(sync_settings.LIVE_REDIS_URL), socket_timeout=None)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(sync_settings.LIVE_CHANNEL)
        detector.notify()
        while not detector.stopping:
            if pubsub.get_message(timeout=5.0) is not None:
                detector.notify()
    finally:
        pubsub.close()
        client.close()
