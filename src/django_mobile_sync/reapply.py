"""Re-applying a device's version of a record from the conflict audit log (an admin action).

The device's payload goes through the domain's service as a push entry would: the domain's
serializer and ``validate_entry`` (invalid data is refused), the state machine, and
``before_save`` / ``after_save``. It is written with ``save()`` (or ``delete()`` for a
delete), so the mixin stamps a new version and change cursor and devices pull it. The
decision is recorded as a new ``SyncConflict`` row with resolution ``reapplied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from .domains import SYSTEM_FIELDS, SyncDomain, get_domain
from .models import SyncConflict
from .serializers import format_timestamp
from .service import SyncService, _differs, flatten_errors, summary
from .storable import to_json

#: ``SyncConflict.resolution`` of the audit rows this module writes.
REAPPLIED = "reapplied"


class ReapplyRefused(Exception):
    """The device's version cannot be applied; the message says why and what to do."""


@dataclass
class Reapplied:
    """The outcome: the new audit row, or ``None`` when the record already matched."""

    audit: SyncConflict | None
    changed: list[str]


def reapply_client_version(conflict: SyncConflict, *, user: Any, using: str) -> Reapplied:
    """Write ``conflict.client_data`` over the current record as a new server version.

    Args:
        conflict: the audit row whose device payload is applied.
        user: who decided (stored as the new audit row's user).
        using: the database alias holding both the audit row and the record.

    Raises:
        ReapplyRefused: the domain or record is gone, or the payload fails validation or the
            state machine.
    """
    domain = get_domain(conflict.domain)
    if domain is None:
        raise ReapplyRefused(
            f"The domain {conflict.domain!r} is no longer declared in MOBILE_SYNC['DOMAINS']."
        )
    with transaction.atomic(using=using):
        instance = _locked_record(domain, conflict, using)
        scope = {name: getattr(instance, name) for name in domain.tenant_fields}
        service = domain.service_class(
            domain, user=user, device_id=conflict.device_id, scope=scope, using=using
        )
        before = service.serialize_record(instance)
        changes = _changes(service, instance, conflict.client_data)
        if not changes:
            return Reapplied(audit=None, changed=[])
        problem = service._check_transition(instance, changes)
        if problem:
            raise ReapplyRefused(problem["error_message"])
        server_version = instance.version
        _apply(service, instance, changes, using)
        audit = SyncConflict.objects.using(using).create(
            domain=domain.name,
            model=conflict.model,
            mobile_id=conflict.mobile_id,
            user_id=getattr(user, "pk", None),
            device_id=conflict.device_id,
            client_version=conflict.client_version,
            server_version=server_version,
            client_data=conflict.client_data,
            server_data=before,
            resolution=REAPPLIED,
            result_data=to_json(service.serialize_record(instance)),
            scope=conflict.scope,
        )
    return Reapplied(audit=audit, changed=sorted(changes))


def _locked_record(domain: SyncDomain, conflict: SyncConflict, using: str) -> Any:
    """The conflict's record, locked, looked up within the tenant the audit row recorded."""
    model: Any = domain.model_class
    tenant = {}
    for name in domain.tenant_fields:
        if name not in (conflict.scope or {}):
            raise ReapplyRefused(
                f"This audit row does not record the record's tenant ({name}); edit the "
                f"{domain.name} record {conflict.mobile_id} in its own admin page instead."
            )
        tenant[model._meta.get_field(name).attname] = conflict.scope[name]
    rows = list(
        model.sync_queryset(using)
        .select_for_update()
        .filter(mobile_id=conflict.mobile_id, **tenant)
        .order_by("pk")[:2]
    )
    if not rows:
        raise ReapplyRefused(
            f"The {domain.name} record {conflict.mobile_id} no longer exists "
            "(its tombstone was purged); the device has to create it again."
        )
    if len(rows) > 1:
        raise ReapplyRefused(
            f"Records of several tenants share mobile_id {conflict.mobile_id}; edit the "
            "right one in its own admin page instead."
        )
    return rows[0]


def _changes(service: SyncService, instance: Any, payload: Any) -> dict[str, Any]:
    """Validated device values that differ from the record's, as a push computes them."""
    raw = payload if isinstance(payload, dict) else {}
    if raw.get("deleted") is True:
        return {} if instance.deleted else {"deleted": True}
    data = {
        k: v
        for k, v in raw.items()
        if k not in SYSTEM_FIELDS and k not in service.domain.read_only_fields
    }
    try:
        validated = service.validate_entry(data, instance)
    except (ValidationError, DjangoValidationError) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message_dict", None)
        errors = flatten_errors(detail if detail is not None else getattr(exc, "messages", exc))
        raise ReapplyRefused(
            f"The device's version is not valid any more: {summary(errors)}"
        ) from exc
    changes = {k: v for k, v in validated.items() if _differs(instance, k, v)}
    if instance.deleted:
        changes["deleted"] = False
    return changes


def _apply(service: SyncService, instance: Any, changes: dict[str, Any], using: str) -> None:
    # The row is locked: save() makes the next version, and the history entry says so.
    at = format_timestamp(timezone.now())
    service.append_history(instance, changes, at, version=instance.version + 1)
    if changes.get("deleted") is True:
        instance.delete(using=using)
        return
    for name, value in changes.items():
        setattr(instance, name, value)
    if changes.get("deleted") is False:
        instance.deleted_at = None
    service.before_save(instance, created=False)
    instance.save(using=using)
    service.after_save([], [instance])
