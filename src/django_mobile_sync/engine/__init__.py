"""The push and pull engines: the units of work every endpoint, the admin and each client
adapter call (docs/engine.md).

- Push: :class:`PushBatch` applies the entries of one or several domains in one transaction
  and answers per entry (:class:`EntryOutcome`, :class:`DomainResult`).
- Pull: :func:`read_page` reads one domain after a :class:`Position`, :class:`ChangeFeed`
  several after a :class:`FeedPosition`; the cursors sign positions.

The engine calls a domain's hooks through :class:`SyncHooks`; it never imports the service,
the HTTP layer or an adapter. Adapters import the engine from here, never its modules.
"""

from __future__ import annotations

from .cursor import (
    FEED_START,
    START,
    DomainCursors,
    FeedCursors,
    FeedPosition,
    Origin,
    Position,
    decode_cursor,
    decode_feed_cursor,
    echo_cursor,
    encode_cursor,
    encode_feed_cursor,
)
from .domain_work import ApplyMode
from .entries import Entry
from .epoch import reset_database
from .hooks import SyncHooks
from .outcomes import (
    BATCH_COUNTS,
    GONE,
    ITEM_CODES,
    REFERENCED,
    SYNCED_STATUSES,
    UNKNOWN_MESSAGE,
    UNKNOWN_REFERENCE,
    UNSTORABLE,
    DomainResult,
    EntryOutcome,
    ItemStatus,
    MultiPushResult,
    PushResult,
    Refusal,
)
from .pull import ChangeFeed, FeedPage, Page, read_page
from .push import DEADLOCK_ATTEMPTS, LockedEntry, PushBatch
from .references import parents_first_domains
from .rows import RowReader

__all__ = [
    "BATCH_COUNTS",
    "DEADLOCK_ATTEMPTS",
    "FEED_START",
    "GONE",
    "ITEM_CODES",
    "REFERENCED",
    "START",
    "SYNCED_STATUSES",
    "UNKNOWN_MESSAGE",
    "UNKNOWN_REFERENCE",
    "UNSTORABLE",
    "ApplyMode",
    "ChangeFeed",
    "DomainCursors",
    "DomainResult",
    "Entry",
    "EntryOutcome",
    "FeedCursors",
    "FeedPage",
    "FeedPosition",
    "ItemStatus",
    "LockedEntry",
    "MultiPushResult",
    "Origin",
    "Page",
    "Position",
    "PushBatch",
    "PushResult",
    "Refusal",
    "RowReader",
    "SyncHooks",
    "decode_cursor",
    "decode_feed_cursor",
    "echo_cursor",
    "encode_cursor",
    "encode_feed_cursor",
    "parents_first_domains",
    "read_page",
    "reset_database",
]
