"""Typed outcomes of a push: one :class:`EntryOutcome` per entry, gathered per domain.

The engine decides an outcome for every entry, and the HTTP answer is built from the
outcomes at the end (:meth:`DomainResult.lists`), the way django-import-export's
``RowResult`` objects make up a ``Result``. Nothing rewrites a list of dicts in place.

This module is the one source of the answer's vocabulary (docs/protocol.md#item-statuses):
the statuses (:class:`ItemStatus`), the lists they go in, the counters of the batch log, and
the ``code`` of each kind of ``error`` item.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..records.storable import format_timestamp

if TYPE_CHECKING:
    from ..models import SyncConflict


class ItemStatus(StrEnum):
    """The ``status`` of an entry in a push answer (docs/protocol.md#item-statuses)."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    RESOLVED = "resolved"
    CONFLICT = "conflict"
    ERROR = "error"

    @property
    def list_name(self) -> str:
        """The list of the answer the entry appears in."""
        if self is ItemStatus.CONFLICT:
            return "conflicts"
        if self is ItemStatus.ERROR:
            return "errors"
        return "synced_items"

    @property
    def counter(self) -> str:
        """The batch log counter of an entry with this status (:data:`BATCH_COUNTS`)."""
        return str(self) if self.list_name == "synced_items" else self.list_name


#: The three lists of a push answer, in the order the answer writes them.
LIST_NAMES = tuple(dict.fromkeys(status.list_name for status in ItemStatus))
#: The statuses of the ``synced_items`` list, in the order the protocol lists them.
SYNCED_STATUSES = tuple(status for status in ItemStatus if status.list_name == "synced_items")
#: The counters of a batch log row (``SyncBatch``), as :meth:`DomainResult.counts` names them.
BATCH_COUNTS = tuple(dict.fromkeys(status.counter for status in ItemStatus))

#: ``code`` of the error for an entry holding a value no database can store.
UNSTORABLE = "unstorable"
#: ``code`` of the error for a reference to no record of the device's scope.
UNKNOWN_REFERENCE = "unknown_reference"
#: ``code`` of the error for deleting a record live children protect.
REFERENCED = "referenced"
#: ``code`` of the error for an ``OVERRIDE`` entry (the admin's re-apply) whose record no
#: longer exists; never sent to a device.
GONE = "gone"
#: ``code`` of the error for an entry to a record outside the pusher's view (docs/views.md).
OUT_OF_VIEW = "out_of_view"
#: ``code`` a serializer or hook gives a change the user may not make (docs/views.md).
NOT_PERMITTED = "not_permitted"
#: The ``code``s of an ``error`` item (docs/protocol.md#item-statuses). A serializer or a hook
#: that raises a ``ValidationError`` with one of these codes gets it in the answer; the codes
#: of DRF's and Django's own messages (``required``, ``invalid``...) stay off the wire.
ITEM_CODES = frozenset({UNSTORABLE, UNKNOWN_REFERENCE, REFERENCED, OUT_OF_VIEW, NOT_PERMITTED})
#: The message of an ``unknown_reference``, the same whatever the reason (unknown, deleted,
#: another tenant's): nothing reveals another tenant's records.
UNKNOWN_MESSAGE = "No record with this id exists in your scope."


@dataclass
class EntryOutcome:
    """What became of one entry.

    Attributes:
        status: the entry's status.
        mobile_id: the ``mobile_id`` exactly as the device sent it (``None`` if it sent none).
        server_version: the record's version after the push (all but ``error``).
        client_version: the version the device's edit was based on (``conflict``).
        resolution: the resolver's name (``resolved``).
        server_data: the server's record as the device should adopt it (``resolved``,
            ``conflict``).
        error_message: what went wrong (``conflict``, ``error``).
        field_errors: ``{field: [messages]}`` (``error``).
        code: a stable reason, where the protocol defines one (``error``).
        changed: the fields the entry changed (not on the wire; for signals and the admin).
    """

    status: ItemStatus
    mobile_id: str | None
    server_version: int | None = None
    client_version: int | None = None
    resolution: str | None = None
    server_data: dict[str, Any] | None = None
    error_message: str = ""
    field_errors: dict[str, list[str]] = field(default_factory=dict)
    code: str | None = None
    changed: list[str] = field(default_factory=list)

    @classmethod
    def synced(cls, mobile_id: str, status: ItemStatus, server_version: int) -> EntryOutcome:
        return cls(status, mobile_id, server_version=server_version)

    @classmethod
    def invalid(cls, mobile_id: Any, exc: Exception) -> EntryOutcome:
        """The error for an entry its serializer or a hook refused, with the item ``code``
        its messages carry, if any (:data:`ITEM_CODES`)."""
        errors = field_errors_of(exc)
        return cls.error(mobile_id, summary(errors), errors, code=item_code(exc))

    @classmethod
    def error(
        cls,
        mobile_id: Any,
        message: str,
        field_errors: Mapping[str, list[str]] | None = None,
        code: str | None = None,
    ) -> EntryOutcome:
        return cls(
            ItemStatus.ERROR,
            None if mobile_id is None else str(mobile_id),
            error_message=message,
            field_errors={str(k): list(v) for k, v in (field_errors or {}).items()},
            code=code,
        )

    @classmethod
    def conflict(
        cls,
        mobile_id: str,
        server_version: int,
        client_version: int,
        server_data: dict[str, Any],
    ) -> EntryOutcome:
        """A stale entry the resolver refused: the server's version wins, for now."""
        return cls(
            ItemStatus.CONFLICT,
            mobile_id,
            server_version,
            client_version=client_version,
            error_message=f"The record changed on the server (version {server_version}) "
            f"after version {client_version} the edit is based on.",
            server_data=server_data,
        )

    @classmethod
    def unstorable(cls, mobile_id: Any, field_errors: dict[str, list[str]]) -> EntryOutcome:
        """The error for an entry holding a value no database can store."""
        name, messages = next(iter(field_errors.items()))
        return cls.error(
            mobile_id,
            f"The entry cannot be stored: {name}: {messages[0]} Remove or fix it, then push "
            "again.",
            field_errors,
            code=UNSTORABLE,
        )

    @classmethod
    def unstorable_change(
        cls, mobile_id: Any, exc: Exception, name: str = "changes"
    ) -> EntryOutcome:
        """The error for a change (or a server record, ``name``) that cannot be stored."""
        return cls.unstorable(mobile_id, {name: [f"It {exc}."]})

    def as_dict(self) -> dict[str, Any]:
        """The entry's item in the answer, with exactly the keys its status has
        (docs/protocol.md#item-statuses)."""
        item: dict[str, Any] = {"mobile_id": self.mobile_id, "status": str(self.status)}
        if self.status is ItemStatus.ERROR:
            item["error_message"] = self.error_message
            item["field_errors"] = self.field_errors
            if self.code is not None:
                item["code"] = self.code
            return item
        item["server_version"] = self.server_version
        if self.status is ItemStatus.CONFLICT:
            item["client_version"] = self.client_version
            item["error_message"] = self.error_message
            item["server_data"] = self.server_data
        elif self.status is ItemStatus.RESOLVED:
            item["resolution"] = self.resolution
            item["server_data"] = self.server_data
        return item


@dataclass(frozen=True)
class Refusal:
    """Why a hook refuses an entry: a message, and the messages per field."""

    message: str
    field_errors: dict[str, list[str]]


def field_errors_of(exc: Exception) -> dict[str, list[str]]:
    """A DRF or Django ``ValidationError`` as ``{field: [messages]}``."""
    detail = getattr(exc, "detail", None) or getattr(exc, "message_dict", None)
    if detail is None:
        detail = getattr(exc, "messages", [str(exc)])
    if isinstance(detail, Mapping):
        return {
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
            for k, v in detail.items()
        }
    messages = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(m) for m in messages]}


def item_code(exc: Exception) -> str | None:
    """The first of ``exc``'s message codes (in field order) that is an item code."""
    for code in error_codes(exc):
        if code in ITEM_CODES:
            return code
    return None


def error_codes(exc: Exception) -> list[str]:
    """The codes of the messages of a DRF or Django ``ValidationError``, in order."""
    get_codes = getattr(exc, "get_codes", None)
    if get_codes is not None:  # DRF: codes nested as the messages are
        return flat_codes(get_codes())
    error_dict = getattr(exc, "error_dict", None)
    errors = [e for es in error_dict.values() for e in es] if error_dict else []
    errors = errors or getattr(exc, "error_list", [])
    return [e.code for e in errors if isinstance(getattr(e, "code", None), str)]


def flat_codes(codes: Any) -> list[str]:
    """DRF's nested codes (``{field: [code]}``, lists, a code) as one list, in order."""
    if isinstance(codes, str):
        return [codes]
    if isinstance(codes, Mapping):
        codes = list(codes.values())
    if isinstance(codes, list):
        return [code for item in codes for code in flat_codes(item)]
    return []


def summary(field_errors: Mapping[str, list[str]]) -> str:
    """The first message, prefixed by its field unless it already names it."""
    name, messages = next(iter(field_errors.items()))
    message = messages[0]
    if name == "non_field_errors" or name in message:
        return message
    return f"{name}: {message}"


@dataclass
class DomainResult:
    """The outcomes of one domain's entries, in input order, and the audit rows written."""

    domain: str
    outcomes: list[EntryOutcome] = field(default_factory=list)
    audits: list[SyncConflict] = field(default_factory=list)

    def of(self, status: ItemStatus) -> list[EntryOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status is status]

    def counts(self) -> dict[str, int]:
        """Entries per status, as the batch log counts them (:data:`BATCH_COUNTS`)."""
        counts = dict.fromkeys(BATCH_COUNTS, 0)
        for outcome in self.outcomes:
            counts[outcome.status.counter] += 1
        return counts

    def has_errors(self) -> bool:
        return any(outcome.status is ItemStatus.ERROR for outcome in self.outcomes)

    def lists(self) -> dict[str, list[dict[str, Any]]]:
        """``synced_items``, ``conflicts`` and ``errors`` as the answer writes them."""
        lists: dict[str, list[dict[str, Any]]] = {name: [] for name in LIST_NAMES}
        for outcome in self.outcomes:
            lists[outcome.status.list_name].append(outcome.as_dict())
        return lists

    def as_dict(self) -> dict[str, Any]:
        """The domain's part of the answer: its three lists."""
        return dict(self.lists())

    @property
    def synced_items(self) -> list[dict[str, Any]]:
        return self.lists()["synced_items"]

    @property
    def conflicts(self) -> list[dict[str, Any]]:
        return self.lists()["conflicts"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.lists()["errors"]


@dataclass
class PushResult(DomainResult):
    """The answer to a single-domain push (docs/protocol.md#push)."""

    timestamp: datetime.datetime | None = None
    cursor: str = ""

    def as_dict(self) -> dict[str, Any]:
        assert self.timestamp is not None
        return {
            **self.lists(),
            "timestamp": format_timestamp(self.timestamp),
            "cursor": self.cursor,
        }


@dataclass
class MultiPushResult:
    """The answer to a multi-domain push (docs/protocol.md#several-domains-in-one-request):
    each domain's lists."""

    results: list[DomainResult]
    timestamp: datetime.datetime
    cursor: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "domains": {result.domain: result.lists() for result in self.results},
            "timestamp": format_timestamp(self.timestamp),
            "cursor": self.cursor,
        }
