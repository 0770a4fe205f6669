"""JSON the database can store: every payload the library writes to a JSON column passes here.

A device chooses every byte of an entry, including keys no serializer reads. Some JSON that
parses cannot be stored: PostgreSQL's ``jsonb`` and ``text`` refuse the NUL character, UTF-8
has no encoding for an unpaired UTF-16 surrogate (``"\\ud83d"``), a number like ``1e400``
parses to infinity, which JSON cannot write back, and JSON nested hundreds of levels deep
exhausts the recursion of whatever encodes it next. Left to the database, any of these fails
the whole batch's transaction, and the device retries it forever.

:func:`to_json` converts a value to its JSON form and raises :class:`UnstorableValue` for
any of them, so the caller can answer that one entry with an error and apply the others.
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ..exceptions import UnstorableValue

#: Deepest nesting of lists and objects accepted inside one entry or stored payload.
MAX_DEPTH = 64
#: The ``code`` of the per-item error answered for an entry that cannot be stored.
UNSTORABLE = "unstorable"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or ``None`` if it can."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if text.isascii():  # in one step: no surrogate, nothing to encode
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired UTF-16 surrogate, which is not valid text"
    return None


def check_text(text: str) -> str:
    problem = text_problem(text)
    if problem is not None:
        raise UnstorableValue(problem)
    return text


def to_json(value: Any, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` as JSON-ready data, checked to be storable.

    Datetimes, dates and times become ISO-8601 (an aware datetime in UTC, as on the wire),
    decimals and UUIDs strings; anything else what ``json.dumps(value, default=str)`` makes
    of it.

    Raises:
        UnstorableValue: NUL characters, unpaired surrogates, a non-finite number, or
            nesting deeper than ``max_depth``.
    """
    return _convert(value, max_depth)


def _convert(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        if value.isascii() and "\x00" not in value:  # the common case, without a call
            return value
        return check_text(value)
    if kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise UnstorableValue("is a number too large to store (it overflows to infinity)")
        return value
    if kind is dict or kind is list or kind is tuple or isinstance(value, Mapping):
        if depth <= 0:
            raise UnstorableValue("is nested too deeply to store")
        if isinstance(value, Mapping):
            return {_key(k): _convert(v, depth - 1) for k, v in value.items()}
        return [_convert(v, depth - 1) for v in value]
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return format_timestamp(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return _convert(json.loads(json.dumps(value, default=str)), depth)


def format_timestamp(value: datetime.datetime) -> str:
    """``value`` as the protocol writes timestamps: ISO-8601 in UTC (``...Z``).

    The one timestamp formatter: answers, pulled records, history entries and audit payloads
    all write timestamps through it (docs/protocol.md).
    """
    if timezone.is_aware(value):
        value = value.astimezone(datetime.UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _key(key: Any) -> str:
    if not isinstance(key, str):
        key = str(key)
    elif key.isascii() and "\x00" not in key:
        return key
    return check_text(key)


def entry_problems(entry: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{key: [why]}`` for each top-level key of a device's entry that cannot be stored."""
    problems: dict[str, list[str]] = {}
    for key, value in entry.items():
        try:
            _key(key)
            _convert(value, MAX_DEPTH - 1)
        except UnstorableValue as exc:
            problems[printable_key(key)] = [f"This value {exc}."]
    return problems


def printable_key(key: Any) -> str:
    """``key`` with NUL and unpaired surrogates escaped, safe to answer and to store."""
    text = str(key)
    if text_problem(text) is None:
        return text
    escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.replace("\x00", "\\x00")
