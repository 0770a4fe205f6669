"""The streams a process holds, indexed by what concerns them, and the delivery of pokes.

The detector reads what changed once per tick (a set of tenants per followed domain, a set
of users whose access changed); :class:`Fanout` finds the streams concerned through its
indexes, so a tick costs in proportion to the streams it pokes, not to the streams held,
and hands each event loop its pokes in one call (one wake-up of the loop per tick, not one
per stream). docs/live.md#how-a-change-reaches-a-stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

from .access import access_alias
from .events import Mark

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
    since: dict[str, Mark] = field(default_factory=dict)  # what its ``ready`` stood for

    def knows(self, alias: str, mark: Mark) -> bool:
        """Every change of ``alias`` below ``mark`` came before this stream's ``ready``."""
        since = self.since.get(alias)
        return (
            since is not None
            and (since.cluster, since.reset) == (mark.cluster, mark.reset)
            and since.horizon >= mark.horizon
        )

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


#: What changed in one tick: per database alias, per domain, the tenants (``None``: all).
Changes = Mapping[str, Mapping[str, set[TenantKey] | None]]


class Fanout:
    """The streams of a process, by (database, domain, tenant) and by user. Not locked: the
    detector calls it under its own lock."""

    def __init__(self) -> None:
        self.streams: set[Subscription] = set()
        self.by_tenant: dict[tuple[str, str], dict[TenantKey | None, set[Subscription]]] = {}
        self.by_user: dict[str, set[Subscription]] = {}
        self.samples: dict[tuple[str, str], Follow] = {}  # a follow of each (alias, domain)

    def __bool__(self) -> bool:
        return bool(self.streams)

    def add(self, subscription: Subscription) -> None:
        self.streams.add(subscription)
        self.by_user.setdefault(subscription.user, set()).add(subscription)
        for follow in subscription.follows:
            place = (follow.using, follow.domain)
            self.by_tenant.setdefault(place, {}).setdefault(follow.tenant, set()).add(subscription)
            self.samples.setdefault(place, follow)

    def remove(self, subscription: Subscription) -> None:
        if subscription not in self.streams:
            return
        self.streams.discard(subscription)
        drop(self.by_user, subscription.user, subscription)
        for follow in subscription.follows:
            place = (follow.using, follow.domain)
            tenants = self.by_tenant.get(place, {})
            drop(tenants, follow.tenant, subscription)
            if not tenants:
                self.by_tenant.pop(place, None)
                self.samples.pop(place, None)

    def follows(self) -> dict[str, dict[str, Follow]]:
        """One follow of every (database, domain) some stream follows, by alias and name."""
        found: dict[str, dict[str, Follow]] = {}
        for (alias, domain), follow in self.samples.items():
            found.setdefault(alias, {})[domain] = follow
        return found

    def leases(self) -> list[int]:
        return [s.lease for s in self.streams if s.lease]

    def targets(
        self,
        changes: Changes,
        users: Mapping[str, set[str] | None],
        marks: Mapping[str, Mark],
    ) -> dict[Subscription, set[str]]:
        """The streams concerned by a tick's changes (those below ``marks``, by alias), and
        their domains that changed: those of their tenant, and those with a view for a user
        whose access changed. A stream whose ``ready`` came after them is left out."""
        found: dict[Subscription, set[str]] = {}
        for alias, domains in changes.items():
            for name, tenants in domains.items():
                held = self.by_tenant.get((alias, name), {})
                groups: Iterable[set[Subscription]] = (
                    held.values() if tenants is None else (held.get(t, set()) for t in tenants)
                )
                for group in groups:
                    for subscription in group:
                        if not subscription.knows(alias, marks[alias]):
                            found.setdefault(subscription, set()).add(name)
        access = access_alias()
        for user, named in users.items():
            for subscription in self.by_user.get(user, ()):
                if subscription.knows(access, marks[access]):
                    continue
                views = with_view(subscription, named)
                if views:
                    found.setdefault(subscription, set()).update(views)
        return found

    def unread(
        self, read: Mapping[str, Mapping[str, Follow]], moved: Mapping[str, Mark]
    ) -> dict[Subscription, set[str]]:
        """The streams of domains a tick did not read (their first stream came while it
        ran) on a database whose mark it ``moved`` (by alias): poked, as their changes up
        to the new mark went unread, unless they started after it."""
        found: dict[Subscription, set[str]] = {}
        for (alias, name), tenants in self.by_tenant.items():
            mark = moved.get(alias)
            if mark is None or name in read.get(alias, {}):
                continue
            for group in tenants.values():
                for subscription in group:
                    if not subscription.knows(alias, mark):
                        found.setdefault(subscription, set()).add(name)
        return found


def drop(index: dict[Any, set[Subscription]], key: Any, subscription: Subscription) -> None:
    group = index.get(key)
    if group is not None:
        group.discard(subscription)
        if not group:
            del index[key]


def with_view(subscription: Subscription, named: set[str] | None) -> set[str]:
    """The domains of ``subscription`` that have a view, among ``named`` (``None``: all)."""
    return {
        f.domain for f in subscription.follows if f.view and (named is None or f.domain in named)
    }


def deliver_all(pokes: list[tuple[Subscription, set[str]]], event_id: str) -> None:
    """On one event loop: every poke of a tick for the streams of that loop."""
    for subscription, domains in pokes:
        if not subscription.ended:
            subscription.deliver(domains, event_id)
