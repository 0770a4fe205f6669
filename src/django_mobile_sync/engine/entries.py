"""Reading a device's push entries: the first step of the push, before any database work.

:func:`parse_entries` turns the ``entries`` list of a push envelope into :class:`Entry`
objects, and answers the entries that cannot be applied at all (not an object, no usable
``mobile_id``, a bad ``version`` or ``deleted``, a value no database can store, the same
record twice in the batch) with their :class:`~.outcomes.EntryOutcome`. A ``mobile_id`` is
read by :func:`~django_mobile_sync.records.ids.read_mobile_id`: a UUID, or a text id for a
model that takes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..domains import SYSTEM_FIELDS
from ..records.ids import MobileId, id_rule, read_mobile_id
from ..records.storable import entry_problems
from .outcomes import EntryOutcome


@dataclass
class Entry:
    """One well-formed push entry.

    Attributes:
        index: its position in the batch.
        mobile_id: the record's id (a ``UUID``, or a ``str`` for a model with text ids).
        wire_id: the ``mobile_id`` exactly as the device sent it, echoed in the answer.
        version: the server version the edit is based on (0: the device believes it new).
        deleted: the entry deletes the record.
        data: the fields a device may write (server-owned ones dropped).
        raw: the entry as the device sent it (for the audit log).
    """

    index: int
    mobile_id: MobileId
    wire_id: str
    version: int
    deleted: bool
    data: dict[str, Any]
    raw: dict[str, Any]


@dataclass
class ParsedEntries:
    """The batch split into entries to apply and answers already decided, by index."""

    entries: list[Entry]
    answered: dict[int, EntryOutcome]
    size: int


def parse_entries(
    raw_entries: Sequence[Any], read_only: Iterable[str] = (), text_ids: bool = False
) -> ParsedEntries:
    """Read ``raw_entries``; ``read_only`` fields are dropped from each entry's data.

    ``text_ids``: the model takes text ids besides UUIDs
    (:func:`~django_mobile_sync.records.ids.uses_text_ids`).
    """
    dropped = SYSTEM_FIELDS | set(read_only)
    entries: list[Entry] = []
    answered: dict[int, EntryOutcome] = {}
    seen: set[MobileId] = set()
    for index, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            answered[index] = EntryOutcome.error(None, "Each entry must be a JSON object.")
            continue
        envelope = read_entry_header(raw, text_ids)
        if isinstance(envelope, EntryOutcome):
            answered[index] = envelope
            continue
        mobile_id, version, deleted = envelope
        wire_id: str = raw["mobile_id"]
        problems = entry_problems(raw)
        if problems:
            answered[index] = EntryOutcome.unstorable(wire_id, problems)
            continue
        if mobile_id in seen:
            answered[index] = EntryOutcome.error(
                wire_id,
                "This mobile_id appears earlier in the same batch; send one entry per record.",
                {"mobile_id": ["Duplicate in batch."]},
            )
            continue
        seen.add(mobile_id)
        data = {k: v for k, v in raw.items() if k not in dropped}
        entries.append(Entry(index, mobile_id, wire_id, version, deleted, data, raw))
    return ParsedEntries(entries, answered, len(raw_entries))


def read_entry_header(
    raw: dict[str, Any], text_ids: bool = False
) -> tuple[MobileId, int, bool] | EntryOutcome:
    """The keys every entry has, ``(mobile_id, version, deleted)``, or the entry's error."""
    raw_id = raw.get("mobile_id")
    mobile_id = read_mobile_id(raw_id, text_ids)
    if mobile_id is None:
        if raw_id is None:
            message = "mobile_id is required."
        else:
            message = f"mobile_id must be {id_rule(text_ids)}."
        return EntryOutcome.error(
            raw_id if isinstance(raw_id, str) else None, message, {"mobile_id": [message]}
        )
    wire_id: str = raw_id  # type: ignore[assignment]  # a str, or mobile_id would be None
    version = raw.get("version", 0)
    if version is None:
        version = 0
    if type(version) is not int or not 0 <= version < 2**31:
        return EntryOutcome.error(
            wire_id,
            "version must be a whole number from 0.",
            {"version": ["A whole number from 0 is required."]},
        )
    deleted = raw.get("deleted", False)
    if deleted is None:
        deleted = False
    if not isinstance(deleted, bool):
        return EntryOutcome.error(
            wire_id, "deleted must be true or false.", {"deleted": ["Must be a boolean."]}
        )
    return mobile_id, version, deleted
