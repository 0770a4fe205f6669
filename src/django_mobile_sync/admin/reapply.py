"""Re-applying a device's version of a record from the conflict audit log (an admin action).

There is one way to apply a device's version: the push engine. The admin's re-apply hands
the audit row's payload to :class:`~django_mobile_sync.engine.push.PushBatch` in the
``OVERRIDE`` mode, within the tenant the audit row recorded: the domain's serializer and
``validate_entry``, the state machine, ``before_save`` / ``after_save``, the history entry
and the write are a push's, and the decision is recorded as a new ``SyncConflict`` row with
resolution ``reapplied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from ..domains import SyncDomain, get_domain
from ..engine import GONE, ApplyMode, ItemStatus, PushBatch
from ..exceptions import ReapplyRefused
from ..models import SyncConflict

#: ``SyncConflict.resolution`` of the audit rows this module writes.
REAPPLIED = ApplyMode.OVERRIDE.value

__all__ = ["REAPPLIED", "Reapplied", "ReapplyRefused", "reapply_client_version"]


@dataclass
class Reapplied:
    """The outcome: the new audit row, or ``None`` when the record already matched."""

    audit: SyncConflict | None
    changed: list[str]


def reapply_client_version(
    conflict: SyncConflict, *, user: AbstractBaseUser | AnonymousUser, using: str
) -> Reapplied:
    """Write ``conflict.client_data`` over the current record as a new server version.

    Args:
        conflict: the audit row whose device payload is applied.
        user: who decided (stored as the new audit row's user and in the history entry).
        using: the database alias holding both the audit row and the record.

    Raises:
        ReapplyRefused: the domain or record is gone, the audit row recorded no tenant, or
            the payload fails validation or the state machine.
    """
    domain = get_domain(conflict.domain)
    if domain is None:
        raise ReapplyRefused(
            f"The domain {conflict.domain!r} is no longer declared in MOBILE_SYNC['DOMAINS']."
        )
    service = domain.service_class(
        domain,
        user=user,
        device_id=conflict.device_id,
        scope=recorded_scope(domain, conflict, using),
        using=using,
    )
    payload = conflict.client_data if isinstance(conflict.client_data, dict) else {}
    batch = PushBatch(using, log=False)
    batch.add(service, [{**payload, "mobile_id": str(conflict.mobile_id)}], ApplyMode.OVERRIDE)
    [result] = batch.apply()
    [outcome] = result.outcomes
    if outcome.status is ItemStatus.ERROR:
        if outcome.code == GONE:
            raise ReapplyRefused(outcome.error_message)
        raise ReapplyRefused(
            f"The device's version is not valid any more: {outcome.error_message}"
        )
    if not result.audits:
        return Reapplied(audit=None, changed=[])
    return Reapplied(audit=result.audits[0], changed=outcome.changed)


def recorded_scope(domain: SyncDomain, conflict: SyncConflict, using: str) -> dict[str, Any]:
    """The tenant the audit row recorded, as a scope (related instances for foreign keys)."""
    scope: dict[str, Any] = {}
    recorded = conflict.scope if isinstance(conflict.scope, dict) else {}
    model = domain.model_class
    for name in domain.tenant_fields:
        if name not in recorded:
            raise ReapplyRefused(
                f"This audit row does not record the record's tenant ({name}); edit the "
                f"{domain.name} record {conflict.mobile_id} in its own admin page instead."
            )
        field = model._meta.get_field(name)
        value = recorded[name]
        if field.is_relation and field.related_model is not None:
            related: Any = field.related_model
            value = related._base_manager.using(using).filter(pk=value).first()
            if value is None:
                raise ReapplyRefused(
                    f"The record's tenant ({name} {recorded[name]}) no longer exists."
                )
        scope[name] = value
    return scope
