"""The audit log of a push: one ``SyncConflict`` row per entry settled against a server
version it was not based on (docs/conflicts.md#the-audit-log).

A stale entry is audited however its resolver settles it, and so are the admin's re-apply
(``reapplied``) and a create that lost a race with another device's (``rejected``). A row
records both sides, the tenant and who pushed; the push writes the rows in one statement.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from ..models import SyncConflict
from ..records.storable import to_json

if TYPE_CHECKING:
    from ..records.syncable import SyncableModelMixin
    from .entries import Entry
    from .hooks import SyncHooks


def audit_row(
    service: SyncHooks,
    entry: Entry,
    instance: SyncableModelMixin,
    resolution: str,
    now: datetime.datetime,
    server_data: dict[str, Any] | None = None,
) -> SyncConflict:
    """The audit row of ``entry`` settled against ``instance`` as it is now.

    Raises:
        UnstorableValue: the entry or the server's record cannot be stored as JSON.
    """
    if server_data is None:
        server_data = service.serialize_record(instance)
    return SyncConflict(
        domain=service.domain.name,
        model=service.model._meta.label,
        mobile_id=str(entry.mobile_id),
        user_id=getattr(service.user, "pk", None),
        device_id=service.device_id[:255],
        client_version=entry.version,
        server_version=instance.version,
        client_data=to_json(entry.raw),
        server_data=to_json(server_data),
        resolution=resolution,
        scope=to_json({k: getattr(v, "pk", v) for k, v in service.scope.items()}),
        created_at=now,
    )
