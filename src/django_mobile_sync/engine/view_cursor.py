"""The cursor of a domain with a view (docs/views.md): bound to the domain, the tenant and
the user, it carries two positions and the keys the device holds.

- ``(seq, pk)``: the records of the view, in ``(change_seq, pk)`` order (as
  :class:`~.cursor.Position`);
- ``(mseq, mid)``: the moves of records out of keys (``ViewMove``, in ``(seq, id)`` order);
  ``cpk``: for a domain that inherits its view, the last child served of the move
  ``(mseq, mid)`` when it is served in part;
- ``keys``: the view keys the device holds records of; ``retired``: key sets it gave up, with
  the clock value below which their moves still matter;
- ``phase``: while the user's keys change, ``"lost"`` (removals of the keys given up) then
  ``"gain"`` (the records of the new keys, in full), by primary key after ``ppk``, towards
  ``target``.

Everything is O(the user's keys), none of it per record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core import signing

from ..conf import sync_settings
from ..exceptions import InvalidCursor
from ..records.view_keys import KeySet
from .cursor import Origin, Position, decode_origin, origin_payload, scope_key

#: The phases of a change of the user's keys.
LOST, GAIN = "lost", "gain"


@dataclass(frozen=True)
class ViewPosition:
    """A place in a view's changes (see the module)."""

    seq: int = -1
    pk: int | str | None = None
    mseq: int | None = None
    mid: int = 0
    cpk: int | str | None = None
    keys: KeySet | None = None
    retired: tuple[tuple[KeySet, int], ...] = field(default=())
    phase: str = ""
    target: KeySet | None = None
    ppk: int | str | None = None
    purge: int = 0
    origin: Origin = Origin()  # noqa: RUF009  # frozen

    @property
    def started(self) -> bool:
        return self.keys is not None

    @property
    def rows(self) -> Position:
        """The position of the view's records, as a domain's cursor has it."""
        return Position(self.seq, self.pk, self.purge, self.origin)


VIEW_START = ViewPosition()


def user_scope(scope: Mapping[str, Any], user: Any) -> dict[str, Any]:
    """The tenant scope with the user: what a view's cursor is bound to."""
    return {**scope, "#user": getattr(user, "pk", None)}


def encode_view_cursor(
    domain: str, scope: Mapping[str, Any], user: Any, position: ViewPosition
) -> str:
    payload = {"d": domain, "t": scope_key(user_scope(scope, user)), **view_payload(position)}
    return signing.dumps(payload, salt=sync_settings.CURSOR_SALT, compress=True)


def view_payload(position: ViewPosition) -> dict[str, Any]:
    """The keys of a cursor that carry ``position``."""
    keys, target = position.keys, position.target
    return {
        "v": 1,
        "s": position.seq,
        "p": position.pk,
        "m": position.mseq,
        "n": position.mid,
        "c": position.cpk,
        "k": None if keys is None else keys.to_wire(),
        "z": [[retired.to_wire(), until] for retired, until in position.retired],
        "h": position.phase,
        "x": None if target is None else target.to_wire(),
        "q": position.ppk,
        "g": position.purge,
        **origin_payload(position.origin),
    }


def decode_view_cursor(
    token: str, domain: str, scope: Mapping[str, Any], user: Any
) -> ViewPosition:
    """The position ``token`` carries.

    Raises:
        InvalidCursor: forged, malformed, or minted for another domain, tenant or user.
    """
    try:
        payload = signing.loads(token, salt=sync_settings.CURSOR_SALT)
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise InvalidCursor("The cursor is malformed or was not issued by this server.") from exc
    if not isinstance(payload, dict):
        raise InvalidCursor("The cursor is malformed.")
    if payload.get("d") != domain or payload.get("t") != scope_key(user_scope(scope, user)):
        raise InvalidCursor("The cursor belongs to another domain, tenant or user.")
    try:
        return read_payload(payload)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidCursor("The cursor is malformed.") from exc


def read_payload(payload: Mapping[str, Any]) -> ViewPosition:
    """A :class:`ViewPosition` from a verified payload; ``ValueError`` if malformed."""

    def integer(value: Any, optional: bool = False) -> Any:
        if (value is None and optional) or type(value) is int:
            return value
        raise ValueError("not an integer")

    def key(value: Any) -> Any:
        if value is None or type(value) in (int, str):
            return value
        raise ValueError("not a key")

    keys = None if payload["k"] is None else KeySet.from_wire(payload["k"])
    target = None if payload["x"] is None else KeySet.from_wire(payload["x"])
    retired = tuple((KeySet.from_wire(ks), integer(until)) for ks, until in payload["z"])
    if payload["h"] not in ("", LOST, GAIN) or (payload["h"] and target is None):
        raise ValueError("not a phase")
    return ViewPosition(
        integer(payload["s"]),
        key(payload["p"]),
        integer(payload["m"], optional=True),
        integer(payload["n"]),
        key(payload["c"]),
        keys,
        retired,
        payload["h"],
        target,
        key(payload["q"]),
        integer(payload["g"]),
        decode_origin(payload),
    )


def echo_view_cursor(token: str, domain: str, scope: Mapping[str, Any], user: Any) -> str:
    """What a push answer echoes (as :func:`~.cursor.echo_cursor`): the device's cursor,
    signed again, or the start when it sent none or one that is not valid here."""
    position = VIEW_START
    if token:
        try:
            position = decode_view_cursor(token, domain, scope, user)
        except InvalidCursor:
            position = VIEW_START
    return encode_view_cursor(domain, scope, user, position)
