"""The opaque pull cursor: a signed (domain, tenant, change position) triple.

A position also records its :class:`Origin`: the database it was read from and that
database's epoch, so that a cursor is never read against another database's change clock
(see :mod:`django_mobile_sync.engine.epoch`). A cursor of one domain (:class:`DomainCursors`)
and one of a feed of several (:class:`FeedCursors`) are signed alike; a push answer echoes
either with :func:`echo_cursor`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.core import signing

from ..conf import sync_settings
from ..exceptions import InvalidCursor


@dataclass(frozen=True)
class Origin:
    """Where a position was read: its database, and that database's epoch.

    Attributes:
        database: the alias of the database the domain writes to (a replica's reads count
            as its primary's); a cursor is only valid there. ``""``: not bound yet (the
            start of the feed).
        cluster: the identity of the change clock's transaction ids: PostgreSQL's system
            identifier (a primary and its physical standbys share it); ``""`` on SQLite.
        reset: the id of the database's last reset (``manage.py sync_reset``), 0 if none.
    """

    database: str = ""
    cluster: str = ""
    reset: int = 0

    @property
    def bound(self) -> bool:
        return bool(self.database)


@dataclass(frozen=True)
class Position:
    """A place in the change feed: after the row ``(seq, pk)``; ``pk=None``: after all of seq.

    ``purge`` is the change clock's horizon when the page that issued the cursor was read:
    tombstone purges recorded below it were already seen by that cursor's chain of pages.
    ``origin`` says where the position was read (:class:`Origin`).
    """

    seq: int = -1
    pk: int | str | None = None
    purge: int = 0
    origin: Origin = Origin()


#: Before every row (unstamped rows have change_seq 0).
START = Position()


def scope_key(scope: Mapping[str, Any]) -> str:
    """A short digest that binds a cursor to one tenant scope."""
    parts = sorted(f"{k}={getattr(v, 'pk', v)}" for k, v in scope.items())
    return hashlib.sha256("&".join(parts).encode()).hexdigest()[:16]


def origin_payload(origin: Origin) -> dict[str, Any]:
    """The keys of a cursor that carry its :class:`Origin` (none for an unbound one)."""
    if not origin.bound:
        return {}
    return {"a": origin.database, "e": origin.cluster, "r": origin.reset}


def decode_origin(payload: Mapping[str, Any]) -> Origin:
    database, cluster, reset = payload.get("a", ""), payload.get("e", ""), payload.get("r", 0)
    if type(database) is not str or type(cluster) is not str or type(reset) is not int:
        raise InvalidCursor("The cursor is malformed.")
    return Origin(database, cluster, reset)


def encode_cursor(domain: str, scope: Mapping[str, Any], position: Position) -> str:
    payload = {
        "d": domain,
        "t": scope_key(scope),
        "s": position.seq,
        "p": position.pk,
        "g": position.purge,
        **origin_payload(position.origin),
    }
    return signing.dumps(payload, salt=sync_settings.CURSOR_SALT, compress=False)


def decode_cursor(token: str, domain: str, scope: Mapping[str, Any]) -> Position:
    try:
        payload = signing.loads(token, salt=sync_settings.CURSOR_SALT)
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise InvalidCursor("The cursor is malformed or was not issued by this server.") from exc
    if not isinstance(payload, dict):
        raise InvalidCursor("The cursor is malformed.")
    if payload.get("d") != domain or payload.get("t") != scope_key(scope):
        raise InvalidCursor("The cursor belongs to another domain or tenant.")
    seq, pk, purge = payload.get("s"), payload.get("p"), payload.get("g", 0)
    valid_pk = pk is None or type(pk) in (int, str)
    if type(seq) is not int or type(purge) is not int or not valid_pk:
        raise InvalidCursor("The cursor is malformed.")
    return Position(seq, pk, purge, decode_origin(payload))


# -- several domains ------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedPosition:
    """A place in the change feed of several domains (see :class:`~.pull.ChangeFeed`).

    The feed is read in windows of the change clock, ``lower <= change_seq < upper``, each
    window domain by domain in the feed's order (parents before children): ``index`` is the
    domain being read and ``(seq, pk)`` the position within it. ``index`` equal to the
    number of domains means the window is done. ``upper`` is ``None`` before the first
    window. ``purge`` and ``origin`` are as in :class:`Position`.
    """

    lower: int = 0
    upper: int | None = None
    index: int = 0
    seq: int = -1
    pk: int | str | None = None
    purge: int = 0
    origin: Origin = Origin()

    @property
    def started(self) -> bool:
        return self.upper is not None


#: Before the first window.
FEED_START = FeedPosition()


def feed_scope_key(scopes: Mapping[str, Mapping[str, Any]]) -> str:
    """A digest binding a cursor to the domains it covers, in order, and their tenants."""
    return scope_key(
        {f"{domain}.{k}": v for domain, scope in scopes.items() for k, v in scope.items()}
        | {f"#{i}": d for i, d in enumerate(scopes)}
    )


def encode_feed_cursor(scopes: Mapping[str, Mapping[str, Any]], position: FeedPosition) -> str:
    """The cursor of a feed over the domains of ``scopes`` (domain name -> tenant scope)."""
    payload = {
        "f": feed_scope_key(scopes),
        "l": position.lower,
        "u": position.upper,
        "i": position.index,
        "s": position.seq,
        "p": position.pk,
        "g": position.purge,
        **origin_payload(position.origin),
    }
    return signing.dumps(payload, salt=sync_settings.CURSOR_SALT, compress=False)


def decode_feed_cursor(token: str, scopes: Mapping[str, Mapping[str, Any]]) -> FeedPosition:
    try:
        payload = signing.loads(token, salt=sync_settings.CURSOR_SALT)
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise InvalidCursor("The cursor is malformed or was not issued by this server.") from exc
    if not isinstance(payload, dict) or "f" not in payload:
        raise InvalidCursor("The cursor is malformed, or belongs to one domain's feed.")
    if payload["f"] != feed_scope_key(scopes):
        raise InvalidCursor("The cursor belongs to other domains or another tenant.")
    lower, upper, index = payload.get("l"), payload.get("u"), payload.get("i")
    seq, pk, purge = payload.get("s"), payload.get("p"), payload.get("g")
    if not (
        type(lower) is int
        and type(index) is int
        and type(seq) is int
        and type(purge) is int
        and (upper is None or type(upper) is int)
        and (pk is None or type(pk) in (int, str))
        and 0 <= index <= len(scopes)
    ):
        raise InvalidCursor("The cursor is malformed.")
    return FeedPosition(lower, upper, index, seq, pk, purge, decode_origin(payload))


# -- echoing a device's cursor --------------------------------------------------------------

P = TypeVar("P", Position, FeedPosition)


class Cursors(Protocol[P]):
    """The cursors of one feed: a start, and positions signed and read back."""

    @property
    def start(self) -> P: ...

    def decode(self, token: str) -> P: ...

    def encode(self, position: P) -> str: ...


@dataclass(frozen=True)
class DomainCursors:
    """The cursors of one domain's changes for one tenant scope."""

    domain: str
    scope: Mapping[str, Any]

    @property
    def start(self) -> Position:
        return START

    def decode(self, token: str) -> Position:
        return decode_cursor(token, self.domain, self.scope)

    def encode(self, position: Position) -> str:
        return encode_cursor(self.domain, self.scope, position)


@dataclass(frozen=True)
class FeedCursors:
    """The cursors of a feed over several domains (``scopes``: domain name -> tenant scope)."""

    scopes: Mapping[str, Mapping[str, Any]]

    @property
    def start(self) -> FeedPosition:
        return FEED_START

    def decode(self, token: str) -> FeedPosition:
        return decode_feed_cursor(token, self.scopes)

    def encode(self, position: FeedPosition) -> str:
        return encode_feed_cursor(self.scopes, position)


def echo_cursor(token: str, cursors: Cursors[P]) -> str:
    """The cursor a push answer echoes: the device's ``token``, validated and signed again, or
    the start of the feed when it sent none or one that is not valid here
    (docs/protocol.md#the-cursor-field)."""
    position = cursors.start
    if token:
        try:
            position = cursors.decode(token)
        except InvalidCursor:
            position = cursors.start
    return cursors.encode(position)
