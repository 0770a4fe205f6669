"""A push to a domain with a view (docs/views.md): entries to records outside the pusher's
view are answered ``out_of_view`` before any version check, unless the service's
``accept_out_of_view()`` hook takes them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..records.view_keys import key_q, view_rule
from .outcomes import OUT_OF_VIEW, EntryOutcome

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ..records.syncable import SyncableModelMixin
    from .hooks import SyncHooks

OUT_OF_VIEW_MESSAGE = "This record is not in your view; drop your copy and pull."


def hidden_records(service: SyncHooks, records: Iterable[SyncableModelMixin]) -> set[Any]:
    """Primary keys of ``records`` (locked by the push) outside the user's view: one query."""
    rule = view_rule(service.domain)
    pks = [record.pk for record in records]
    if rule is None or not pks:
        return set()
    keys = service.get_view_keys()
    if keys.everything:
        return set()
    rows = service.model.sync_queryset(service.using).filter(pk__in=pks)
    visible = set(rows.filter(key_q(rule.path, keys)).values_list("pk", flat=True))
    return set(pks) - visible


def visible_to(service: SyncHooks | None, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """``queryset`` (records a push may reference) narrowed to the pusher's view of their
    domain: a reference to a record outside it is an ``unknown_reference``."""
    rule = None if service is None else view_rule(service.domain)
    if service is None or rule is None:
        return queryset
    return queryset.filter(key_q(rule.path, service.get_view_keys()))


def out_of_view(wire_id: Any) -> EntryOutcome:
    """The answer to an entry for a record outside the pusher's view: nothing of it."""
    return EntryOutcome.error(wire_id, OUT_OF_VIEW_MESSAGE, code=OUT_OF_VIEW)
