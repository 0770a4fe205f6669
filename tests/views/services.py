from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_mobile_sync.service import SyncService


class AcceptOutOfView(SyncService):
    """Takes a note pushed to a record after it left the pusher's view (docs/views.md)."""

    def accept_out_of_view(self, instance: Any, entry: Mapping[str, Any]) -> bool:
        return set(entry) <= {"mobile_id", "version", "note"}
