"""The detector: one per process, it reads the change clock and pokes the streams it holds.

A thread reads each database's change clock (:func:`~django_mobile_sync.records.read_clock`)
between two snapshots and asks every domain a stream follows which tenants have rows whose
``change_seq`` lies between them: one query per domain, whatever the number of streams. The
streams of those tenants get the domain names (never record data), on their own event loop.
Rows below the horizon are committed for good, so no change is ever skipped; the back end
(:mod:`.backends`) only decides how soon the next read comes (a wake-up), and a periodic read
makes a lost notification cost latency, never a change.

A change of a user's access (:mod:`.access`) is read the same way, in one more query per
tick on the database of the ``AccessChange`` table: the streams of that user get their
domains that have a view.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connections
from django.db.models import Model

from django_mobile_sync.conf import sync_settings
from django_mobile_sync.records import read_clock

from .access import access_alias, changed_users, purge_access_changes
from .events import Mark, encode_event_id
from .leases import release_leases, renew_leases

logger = logging.getLogger("django_mobile_sync.live")

#: A tenant: the values of a domain's tenant fields (primary keys for foreign keys).
TenantKey = tuple[Any, ...]


@dataclass(frozen=True)
class Follow:
    """One domain a stream follows: where it lives and whose changes concern it.

    Attributes:
        domain: the domain's name.
        model: its model.
        using: the database alias its records live on.
        columns: the tenant fields' columns (``attname``), in the domain's order.
        tenant: the stream's values of ``columns``; ``None`` for an unscoped domain.
        view: the domain has a view (docs/views.md): a change of the user's access pokes it.
    """

    domain: str
    model: type[Model]
    using: str
    columns: tuple[str, ...]
    tenant: TenantKey | None
    view: bool = False


@dataclass(eq=False)
class Subscription:
    """A stream's registration: the domains it follows and how to reach its event loop."""

    follows: tuple[Follow, ...]
    loop: asyncio.AbstractEventLoop
    lease: int = 0
    user: str = ""  # the user's primary key, as AccessChange.user_key holds it
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False
    pending: set[str] = field(default_factory=set)
    event_id: str = ""

    def deliver(self, domains: set[str], event_id: str) -> None:
        """On the stream's loop: remember the domains until the stream sends its poke."""
        self.pending |= domains
        self.event_id = event_id
        self.changed.set()

    def take(self) -> tuple[list[str], str]:
        """The domains changed since the last call, in the order followed, and the event id."""
        order = [f.domain for f in self.follows if f.domain in self.pending]
        self.pending.clear()
        self.changed.clear()
        return order, self.event_id


class Detector:
    """The process's one reader of the change clock; see the module's docstring."""

    def __init__(self) -> None:
        self.holder = uuid.uuid4().hex
        self.lock = threading.Lock()
        self.subscriptions: set[Subscription] = set()
        self.marks: dict[str, Mark] = {}
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.chase_until = 0.0  # read at the fast pace until then (a notification came)
        self.renewed = 0.0
        self.stopping = False
        self.released: list[int] = []  # leases of streams that ended, to delete

    # -- streams ----------------------------------------------------------------------------
    def subscribe(self, subscription: Subscription) -> tuple[str, dict[str, Mark]]:
        """Register a stream (in a thread that may use the database); the ``ready`` event's
        id and the marks it stands for: changes from there on are announced to it."""
        with self.lock:
            for alias in {f.using for f in subscription.follows} | {access_alias()}:
                if alias not in self.marks:
                    self.marks[alias] = self.read_mark(alias)
            if not subscription.ended:  # it may have ended while this thread ran
                self.subscriptions.add(subscription)
            marks = dict(self.marks)
        self.start()
        return encode_event_id(marks), marks

    def unsubscribe(self, subscription: Subscription) -> None:
        """A stream ended (from its event loop, any number of times): forget it; its lease
        is deleted in the detector's thread."""
        with self.lock:
            if subscription.ended:
                return
            subscription.ended = True
            self.subscriptions.discard(subscription)
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
        with self.lock:
            subscriptions = list(self.subscriptions)
            marks = dict(self.marks)
        heartbeat = float(sync_settings.STREAM_HEARTBEAT)
        access = access_alias()
        if time.monotonic() - self.renewed > heartbeat / 2:
            renew_leases([s.lease for s in subscriptions if s.lease], heartbeat)
            purge_access_changes(access)
            self.renewed = time.monotonic()
        follows: dict[str, dict[str, Follow]] = {access: {}}
        for subscription in subscriptions:
            for follow in subscription.follows:
                follows.setdefault(follow.using, {})[follow.domain] = follow
        changes: dict[str, dict[str, set[TenantKey] | None]] = {}
        users: dict[str, set[str] | None] = {}
        for alias, domains in follows.items():
            new = self.read_mark(alias)
            old = marks.get(alias)
            if old is not None and (old.cluster, old.reset) == (new.cluster, new.reset):
                if new.horizon <= old.horizon:
                    continue
                changes[alias] = {
                    name: changed_tenants(f, old.horizon, new.horizon)
                    for name, f in domains.items()
                }
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
        for subscription in subscriptions:
            names = concerned(subscription, changes)
            if subscription.user in users:
                names |= with_view(subscription, users[subscription.user])
            if names:
                try:
                    subscription.loop.call_soon_threadsafe(subscription.deliver, names, event_id)
                except RuntimeError:  # its loop is closed: the stream is gone
                    self.unsubscribe(subscription)

    @staticmethod
    def read_mark(alias: str) -> Mark:
        reading = read_clock(alias)
        return Mark(reading.horizon, reading.cluster, reading.reset)


def changed_tenants(follow: Follow, start: int, end: int) -> set[TenantKey] | None:
    """The tenants of ``follow``'s domain with a change in ``[start, end)`` (an index range
    on ``change_seq``); ``None`` stands for every tenant (an unscoped domain that changed)."""
    rows = follow.model._base_manager.using(follow.using).filter(
        change_seq__gte=start, change_seq__lt=end
    )
    if not follow.columns:
        return None if rows.exists() else set()
    return set(rows.values_list(*follow.columns).distinct())


def with_view(subscription: Subscription, named: set[str] | None) -> set[str]:
    """The domains of ``subscription`` that have a view, among ``named`` (``None``: all)."""
    return {
        f.domain for f in subscription.follows if f.view and (named is None or f.domain in named)
    }


def concerned(
    subscription: Subscription, changes: Mapping[str, Mapping[str, set[TenantKey] | None]]
) -> set[str]:
    """The domains of ``subscription`` that changed in its tenant."""
    domains = set()
    for follow in subscription.follows:
        if follow.domain not in changes.get(follow.using, {}):
            continue
        tenants = changes[follow.using][follow.domain]
        if tenants is None or follow.tenant in tenants:
            domains.add(follow.domain)
    return domains


_detector: Detector | None = None
_detector_lock = threading.Lock()


def get_detector() -> Detector:
    """The process's detector (created on first use; started by the first stream)."""
    global _detector
    with _detector_lock:
        if _detector is None:
            _detector = Detector()
        return _detector
