"""Conflict resolvers: what happens to a stale push entry (docs/conflicts.md).

A push entry is stale when the record exists and the entry's ``version`` is lower than the
server's. The domain's resolver gets a :class:`ConflictContext` and answers a
:class:`Resolution`. Every stale entry is written to the audit log, however it is settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from .conf import import_from_setting

if TYPE_CHECKING:
    from .domains import SyncDomain

__all__ = [
    "RESOLVERS",
    "ClientWinsResolver",
    "ConflictContext",
    "ConflictResolver",
    "LastWriteWinsResolver",
    "MergeResolver",
    "RejectResolver",
    "Resolution",
    "ServerWinsResolver",
    "get_resolver",
]


@dataclass
class ConflictContext:
    """What a resolver knows about one stale entry.

    Attributes:
        domain: the domain of the push.
        instance: the server record, locked for the rest of the batch; not yet changed.
        base_version: the server version the device's edit was based on.
        changes: validated client values that differ from the server's, by field name
            (``{"deleted": True}`` for a delete).
        entry: the raw entry as the device sent it.
    """

    domain: SyncDomain
    instance: Any
    base_version: int
    changes: dict[str, Any]
    entry: dict[str, Any]

    def server_changed_since_base(self, name: str) -> bool:
        """Whether the server changed ``name`` after the device's base version."""
        versions = getattr(self.instance, "field_versions", None) or {}
        return int(versions.get(name, 1)) > self.base_version


@dataclass
class Resolution:
    """A resolver's answer.

    ``conflict=True`` reports the entry as a ``conflict`` and changes nothing; otherwise the
    entry is ``resolved`` and ``changes`` (possibly empty: the server keeps its data) apply.
    """

    name: str
    conflict: bool = False
    changes: dict[str, Any] = field(default_factory=dict)


class ConflictResolver:
    """Base class of resolvers; subclasses implement :meth:`resolve`."""

    name = ""

    def resolve(self, context: ConflictContext) -> Resolution:
        """Settle one stale entry."""
        raise NotImplementedError(".resolve() must be overridden")


class RejectResolver(ConflictResolver):
    """Optimistic locking: a stale entry is a ``conflict``; nothing changes (the default)."""

    name = "reject"

    def resolve(self, context: ConflictContext) -> Resolution:
        return Resolution(name="rejected", conflict=True)


class ServerWinsResolver(ConflictResolver):
    """The server keeps its data; the device adopts the server record."""

    name = "server_wins"

    def resolve(self, context: ConflictContext) -> Resolution:
        return Resolution(name=self.name)


class ClientWinsResolver(ConflictResolver):
    """The device's values are applied over the server's."""

    name = "client_wins"

    def resolve(self, context: ConflictContext) -> Resolution:
        return Resolution(name=self.name, changes=dict(context.changes))


class LastWriteWinsResolver(ConflictResolver):
    """The side whose ``client_timestamp_field`` is later wins (ties keep the server's)."""

    name = "last_write_wins"

    def resolve(self, context: ConflictContext) -> Resolution:
        field_name = context.domain.client_timestamp_field
        if field_name is None:
            raise ImproperlyConfigured(
                f"{context.domain.option('client_timestamp_field')} is required by "
                "the last_write_wins resolver."
            )
        client_time = context.changes.get(field_name)
        server_time = getattr(context.instance, field_name, None)
        if client_time is not None and (server_time is None or client_time > server_time):
            return Resolution(name=self.name, changes=dict(context.changes))
        return Resolution(name=self.name)


class MergeResolver(ConflictResolver):
    """Field-level merge.

    Fields the server has not changed since the device's base version take the device's
    value; fields changed on both sides keep the server's. A stale delete keeps the record.
    """

    name = "merge"

    def resolve(self, context: ConflictContext) -> Resolution:
        if context.changes.get("deleted"):
            return Resolution(name=self.name)
        merged = {
            name: value
            for name, value in context.changes.items()
            if not context.server_changed_since_base(name)
        }
        return Resolution(name=self.name, changes=merged)


RESOLVERS: dict[str, type[ConflictResolver]] = {
    cls.name: cls
    for cls in (
        RejectResolver,
        ServerWinsResolver,
        ClientWinsResolver,
        LastWriteWinsResolver,
        MergeResolver,
    )
}


def get_resolver(value: Any, option: str) -> ConflictResolver:
    """A resolver instance from a short name, an import path, a class or an instance."""
    if isinstance(value, str) and value in RESOLVERS:
        return RESOLVERS[value]()
    if isinstance(value, str) and "." not in value:
        raise ImproperlyConfigured(
            f"{option}: unknown resolver {value!r}; use one of {', '.join(RESOLVERS)} "
            "or the import path of a ConflictResolver subclass."
        )
    found = import_from_setting(value, option)
    if isinstance(found, type):
        found = found()
    if not callable(getattr(found, "resolve", None)):
        raise ImproperlyConfigured(f"{option}: {value!r} has no resolve() method.")
    resolver: ConflictResolver = found
    return resolver
