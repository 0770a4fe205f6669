"""Signals for observers (metrics, logging, notifications); not for control flow.

The first three are sent after the push's transaction block has exited, so a receiver cannot undo
a batch; an exception it raises still reaches the view (a ``500`` for a batch that was
applied), so keep receivers from raising.

- ``batch_synced(sender, domain, batch, result)``: once per push, with the ``SyncBatch`` row
  and the ``PushResult``.
- ``conflict_detected(sender, domain, conflict)``: once per stale entry, with its
  ``SyncConflict`` audit row, whatever the resolver decided.
- ``item_rejected(sender, domain, item, batch)``: once per entry answered ``error``, with the
  error item of the response (``mobile_id``, ``error_message``, ``field_errors``; never the
  record's payload) and the ``SyncBatch`` row (user, device).
- ``changes_committed(sender, using, domains)``: once per committing push transaction that
  changed records (``transaction.on_commit``), with the database alias and the names of the
  domains the push wrote; nothing is sent for a rolled-back push. Live streams
  (docs/live.md) use it as a wake-up; it carries no record data.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = [
    "batch_synced",
    "changes_committed",
    "conflict_detected",
    "item_rejected",
]

batch_synced = Signal()
changes_committed = Signal()
conflict_detected = Signal()
item_rejected = Signal()
