"""Signals for observers (metrics, logging); not for control flow.

- ``batch_synced(sender, domain, batch, result)``: after a push commits its transaction.
- ``conflict_detected(sender, domain, conflict)``: once per stale entry, after the push.
"""

from __future__ import annotations

from django.dispatch import Signal

batch_synced = Signal()
conflict_detected = Signal()
