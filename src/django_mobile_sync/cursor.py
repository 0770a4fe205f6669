"""The opaque pull cursor: a signed (domain, tenant, change position) triple."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core import signing

from .conf import sync_settings


class InvalidCursor(Exception):
    """The cursor is malformed, forged, or minted for another domain or tenant."""


@dataclass(frozen=True)
class Position:
    """A place in the change feed: after the row ``(seq, pk)``; ``pk=None``: after all of seq.

    ``purge`` is the change clock's horizon when the page that issued the cursor was read:
    tombstone purges recorded below it were already seen by that cursor's chain of pages.
    """

    seq: int = -1
    pk: int | str | None = None
    purge: int = 0


#: Before every row (unstamped rows have change_seq 0).
START = Position()


def scope_key(scope: Mapping[str, Any]) -> str:
    """A short digest that binds a cursor to one tenant scope."""
    parts = sorted(f"{k}={getattr(v, 'pk', v)}" for k, v in scope.items())
    return hashlib.sha256("&".join(parts).encode()).hexdigest()[:16]


def encode_cursor(domain: str, scope: Mapping[str, Any], position: Position) -> str:
    payload = {
        "d": domain,
        "t": scope_key(scope),
        "s": position.seq,
        "p": position.pk,
        "g": position.purge,
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
    return Position(seq, pk, purge)
