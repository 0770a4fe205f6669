"""The wire form of a stream: server-sent events, and the opaque ``id:`` of an event.

An event id is the detector's position on the change clock of each database (the horizon
every change below which it has announced), with the clock's identity, signed with
``django.core.signing``: valid on any server of the deployment. An unknown, foreign or
malformed ``Last-Event-ID`` reads as ``None`` (treated as old: a poke follows ``ready``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing

SALT = "django_mobile_sync.live.event"


@dataclass(frozen=True)
class Mark:
    """Where the detector stands on one database's change clock.

    Attributes:
        horizon: every change with ``change_seq`` below it has been announced.
        cluster: the clock's identity (PostgreSQL's system identifier, ``""`` elsewhere).
        reset: the database's last reset (``manage.py sync_reset``).
    """

    horizon: int
    cluster: str = ""
    reset: int = 0


def encode_event_id(marks: Mapping[str, Mark]) -> str:
    """The ``id:`` of an event sent when the detector stood at ``marks`` (by alias)."""
    payload = {alias: [m.horizon, m.cluster, m.reset] for alias, m in sorted(marks.items())}
    return signing.dumps(payload, salt=SALT, compress=True)


def decode_event_id(value: str | None) -> dict[str, Mark] | None:
    """The marks of a ``Last-Event-ID``; ``None`` for a missing, forged or malformed one."""
    if not value or len(value) > 4096:
        return None
    try:
        payload = signing.loads(value, salt=SALT)
        return {
            str(alias): Mark(int(horizon), str(cluster), int(reset))
            for alias, (horizon, cluster, reset) in payload.items()
        }
    except (signing.BadSignature, ValueError, TypeError, AttributeError):
        return None


def event(name: str, data: Any, event_id: str | None = None, retry: int | None = None) -> bytes:
    """One server-sent event: ``retry:`` (the reconnection delay in milliseconds an
    ``EventSource`` uses), ``id:``, ``event:`` and a one-line JSON ``data:``."""
    lines = [f"retry: {retry}"] if retry is not None else []
    lines += [f"id: {event_id}"] if event_id is not None else []
    lines += [f"event: {name}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    return ("\n".join(lines) + "\n\n").encode()


def poke(domains: Sequence[str], event_id: str) -> bytes:
    """``event: poke`` naming ``domains`` (no record data: the device pulls)."""
    return event("poke", {"domains": list(domains)}, event_id)


def comment(text: str) -> bytes:
    """A comment line (a heartbeat): clients ignore it, proxies see traffic."""
    return f": {text}\n\n".encode()
