"""The detector: one per process, it reads the change clock and pokes the streams it holds.

A thread reads each database's change clock (:func:`~django_mobile_sync.records.read_clock`)
between two snapshots and asks the domains streams follow which tenants have rows whose
``change_seq`` lies between them: one query (:func:`changed_in`), whatever the number of
streams and of domains. The streams of those tenants get the domain names (never record
data), on their own event loop: :class:`~.fanout.Fanout` finds them through its indexes and
hands each loop its pokes in one call. Reads are at least :data:`MIN_TICK_GAP` apart, so a
burst of commits shares one.
Rows below the horizon are committed for good, so no change is ever skipped; the back end
(:mod:`.backends`) only decides how soon the next read comes (a wake-up), and a periodic read
makes a lost notification cost latency, never a change.

A change of a user's access (:mod:`.access`) is read the same way, in one more query per
tick on the database of the ``AccessChange`` table: the streams of that user get their
domains that have a view.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from django.db import close_old_connections, connections

from django_mobile_sync.conf import sync_settings
from django_mobile_sync.records import read_clock

from .access import access_alias, changed_users, purge_access_changes
from .events import Mark, encode_event_id
from .fanout import Fanout, Follow, Subscription, TenantKey, deliver_all
from .leases import release_leases, renew_leases
from .reading import changed_in

logger = logging.getLogger("django_mobile_sync.live")

__all__ = ["Detector", "Follow", "Subscription", "get_detector"]

#: Seconds between two reads at least: the commits of that window share one read and one
#: poke per stream (a burst of pushes does not cost a read each).
MIN_TICK_GAP = 0.1


class Detector:
    """The process's one reader of the change clock; see the module's docstring."""

    def __init__(self) -> None:
        self.holder = uuid.uuid4().hex
        self.lock = threading.Lock()
        self.subscriptions = Fanout()
        self.marks: dict[str, Mark] = {}
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.chase_until = 0.0  # read at the fast pace until then (a notification came)
        self.renewed = 0.0
        self.ticked = 0.0
        self.stopping = False
        self.released: list[int] = []  # leases of streams that ended, to delete

    # -- streams ----------------------------------------------------------------------------
    def subscribe(self, subscription: Subscription) -> tuple[str, dict[str, Mark]]:
        """Register a stream (in a thread that may use the database); the ``ready`` event's
        id and the marks it stands for: changes from there on are announced to it.

        The marks are read afresh, not the detector's last ones: a commit the detector has
        not read yet came before ``ready``, so it neither pokes this stream nor makes a
        ``Last-Event-ID`` of ``ready`` look old (:meth:`.Subscription.knows`)."""
        aliases = {f.using for f in subscription.follows} | {access_alias()}
        marks = {alias: self.read_mark(alias) for alias in sorted(aliases)}
        subscription.since = marks
        with self.lock:
            for alias, mark in marks.items():
                self.marks.setdefault(alias, mark)
            if not subscription.ended:  # it may have ended while this thread ran
                self.subscriptions.add(subscription)
        self.start()
        return encode_event_id(marks), marks

    def unsubscribe(self, subscription: Subscription) -> None:
        """A stream ended (from its event loop, any number of times): forget it; its lease
        is deleted in the detector's thread."""
        with self.lock:
            if subscription.ended:
                return
            subscription.ended = True
            self.subscriptions.remove(subscription)
            if subscription.lease:
                self.released.append(subscription.lease)
        self.wake.set()

    def notify(self) -> None:
        """A wake-up: something may have committed (a back end's notification, a push of
        this process). Read the clock at the fast pace until the change is below it."""
        self.chase_until = time.monotonic() + 2.0
        self.wake.set()

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> None:
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return
            self.stopping = False
            self.thread = threading.Thread(target=self.run, name="mobile-sync-live", daemon=True)
            self.thread.start()

    def interval(self) -> float:
        fast = float(sync_settings.LIVE_POLL_INTERVAL)
        if sync_settings.LIVE_BACKEND == "poll" or time.monotonic() < self.chase_until:
            return fast
        renewal = float(sync_settings.STREAM_HEARTBEAT) / 2  # the leases outlive no stream
        return min(float(sync_settings.LIVE_SAFETY_INTERVAL), renewal)

    def run(self) -> None:
        while not self.stopping:
            self.wake.wait(self.interval())
            pause = self.ticked + MIN_TICK_GAP - time.monotonic()
            if pause > 0:  # the commits of the pause share the next read
                time.sleep(pause)
            self.wake.clear()
            try:
                self.release_leases()
            except Exception:
                logger.exception("Live streams: releasing the leases of ended streams failed")
            if not self.subscriptions:
                with self.lock:  # the next stream starts from the clock as it is then
                    if not self.subscriptions:
                        self.marks.clear()
                continue
            try:
                self.ticked = time.monotonic()
                self.tick()
            except Exception:  # a database restart: read again at the next tick
                logger.exception("Live streams: reading the change clock failed")
                close_old_connections()
                for connection in connections.all(initialized_only=True):
                    connection.close()
                time.sleep(1)

    def release_leases(self) -> None:
        with self.lock:
            released, self.released = self.released, []
        if released:
            release_leases(released)

    def tick(self) -> None:
        """One read of every followed database's clock; pokes for what changed below it."""
        heartbeat = float(sync_settings.STREAM_HEARTBEAT)
        renew = time.monotonic() - self.renewed > heartbeat / 2
        with self.lock:
            marks = dict(self.marks)
            follows = self.subscriptions.follows()
            leases = self.subscriptions.leases() if renew else []
        access = access_alias()
        if renew:
            renew_leases(leases, heartbeat)
            purge_access_changes(access)
            self.renewed = time.monotonic()
        follows.setdefault(access, {})
        changes: dict[str, dict[str, set[TenantKey] | None]] = {}
        users: dict[str, set[str] | None] = {}
        for alias, domains in follows.items():
            new = self.read_mark(alias)
            old = marks.get(alias)
            if old is not None and (old.cluster, old.reset) == (new.cluster, new.reset):
                if new.horizon <= old.horizon:
                    continue
                changes[alias] = changed_in(domains, old.horizon, new.horizon)
                if alias == access:
                    users = changed_users(alias, old.horizon, new.horizon)
            else:  # another clock (a reset, a failover): every stream pulls to be sure
                changes[alias] = dict.fromkeys(domains, None)
            marks[alias] = new
        if not changes:
            return
        with self.lock:
            self.marks.update(marks)
            event_id = encode_event_id(self.marks)
            targets = self.subscriptions.targets(changes, users, marks)
            moved = {alias: marks[alias] for alias in changes}
            for subscription, names in self.subscriptions.unread(follows, moved).items():
                targets.setdefault(subscription, set()).update(names)
        self.deliver(targets, event_id)

    def deliver(self, targets: dict[Subscription, set[str]], event_id: str) -> None:
        """Hand each event loop its pokes, in one call per loop."""
        by_loop: dict[Any, list[tuple[Subscription, set[str]]]] = {}
        for subscription, names in targets.items():
            by_loop.setdefault(subscription.loop, []).append((subscription, names))
        for loop, pokes in by_loop.items():
            try:
                loop.call_soon_threadsafe(deliver_all, pokes, event_id)
            except RuntimeError:  # the loop is closed: its streams are gone
                for subscription, _names in pokes:
                    self.unsubscribe(subscription)

    @staticmethod
    def read_mark(alias: str) -> Mark:
        reading = read_clock(alias)
        return Mark(reading.horizon, reading.cluster, reading.reset)


_detector: Detector | None = None
_detector_lock = threading.Lock()


def get_detector() -> Detector:
    """The process's detector (created on first use; started by the first stream)."""
    global _detector
    with _detector_lock:
        if _detector is None:
            _detector = Detector()
        return _detector
