"""References between the records of one push: ``mobile_id``s resolved to records.

A device creates a parent and its children offline and pushes them together, in any order,
in one domain or across the domains of a multi-domain push (SPEC §7). :class:`RequestRecords`
is what the push engine knows of records across the whole request:

- the order to decide and write the domains in (parents first, :func:`parents_first`);
- the records decided so far, by model and ``mobile_id``: created, kept, or gone (deleted,
  or failed to be created), consulted before the database;
- for each domain, its entries' references resolved to records: the staged parent, or one
  query per referenced model for the existing, live parents of the device's scope.

An id that resolves to nothing in the scope (unknown, deleted, another tenant's, or a parent
that failed in this request) is an ``unknown_reference`` error on that field, with the same
message whatever the reason, so nothing reveals another tenant's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Model

from .bulk import in_values
from .domains import SyncDomain, get_domains
from .entries import Entry
from .ids import MobileId, id_order, read_mobile_id, uses_text_ids
from .outcomes import EntryOutcome, ItemStatus
from .serializers import UNKNOWN_REFERENCE

if TYPE_CHECKING:
    from .service import SyncService
    from .staging import DomainWork

#: What a device is told of a reference that resolves to nothing in its scope.
UNKNOWN_MESSAGE = "No record with this id exists in your scope."

Key = tuple[str, MobileId]  # (model label, mobile_id)


def parents_first_domains(domains: Sequence[SyncDomain]) -> list[SyncDomain]:
    """``domains`` ordered so that a domain comes after the domains it references.

    Stable: unrelated domains keep their order. A cycle between domains (rare) keeps the
    given order for the domains in it.
    """
    remaining, ordered = list(domains), []
    while remaining:
        models = {d.model_class for d in remaining}
        ready = [
            d
            for d in remaining
            if not any(m in models and m is not d.model_class for m in d.references.values())
        ]
        chosen = ready[0] if ready else remaining[0]
        ordered.append(chosen)
        remaining.remove(chosen)
    return ordered


def parents_first(works: Sequence[DomainWork]) -> list[DomainWork]:
    """``works`` in the order of :func:`parents_first_domains`."""
    order = {id(d): i for i, d in enumerate(parents_first_domains([w.domain for w in works]))}
    return sorted(works, key=lambda work: order[id(work.domain)])


def entry_order(work: DomainWork) -> list[Entry]:
    """The domain's entries with those a self-reference names first."""
    own = [name for name, model in work.domain.references.items() if model is work.model]
    entries = work.parsed.entries
    if not own:
        return list(entries)
    by_id = {entry.mobile_id: entry for entry in entries}
    text = uses_text_ids(work.model)
    ordered: list[Entry] = []
    placed: set[MobileId] = set()

    def place(entry: Entry, path: set[MobileId]) -> None:
        if entry.mobile_id in placed or entry.mobile_id in path:
            return
        for name in own:
            parent_id = read_mobile_id(entry.data.get(name), text)
            parent = by_id.get(parent_id) if parent_id is not None else None
            if parent is not None:
                place(parent, path | {entry.mobile_id})
        placed.add(entry.mobile_id)
        ordered.append(entry)

    for entry in entries:
        place(entry, set())
    return ordered


def parse_id(value: Any, model: type[Model]) -> MobileId | None:
    """``value`` as the ``mobile_id`` of a ``model`` record, or ``None`` if it is not one
    (the field reports it)."""
    return read_mobile_id(value, uses_text_ids(model))


class RequestRecords:
    """The records a push request has decided, and its entries' references resolved."""

    def __init__(self, works: Sequence[DomainWork]) -> None:
        self.works = list(works)
        self.known: dict[Key, Model | None] = {}
        self.leaving: set[tuple[type[Model], MobileId]] = {
            (work.model, entry.mobile_id)
            for work in works
            for entry in work.parsed.entries
            if entry.deleted
        }
        self.found: dict[Key, Model] = {}

    # -- what the request decided --------------------------------------------------------------
    def note(self, work: DomainWork, entry: Entry, outcome: EntryOutcome) -> None:
        """Remember what became of ``entry``'s record for the entries that reference it."""
        key = (work.model._meta.label, entry.mobile_id)
        staged = work.staged.instances.get(entry.mobile_id)
        if outcome.status is ItemStatus.ERROR:
            existing = work.existing.get(entry.mobile_id)
            self.known[key] = existing if existing is not None and not existing.deleted else None
        elif staged is not None:
            self.known[key] = None if getattr(staged, "deleted", False) else staged
        elif outcome.status is ItemStatus.DELETED:
            self.known[key] = None

    def forget(self, work: DomainWork, entry: Entry) -> None:
        """A staged record the database refused: its children fail too."""
        self.known[(work.model._meta.label, entry.mobile_id)] = None

    # -- resolving ----------------------------------------------------------------------------
    def prefetch(self, work: DomainWork) -> None:
        """Find the existing, live parents the domain's entries reference: one query a model."""
        wanted: dict[type[Model], set[MobileId]] = {}
        for entry in work.parsed.entries:
            for name, model in work.domain.references.items():
                mobile_id = parse_id(entry.data.get(name), model)
                if mobile_id is None:
                    continue
                key = (model._meta.label, mobile_id)
                if key not in self.known and key not in self.found:
                    wanted.setdefault(model, set()).add(mobile_id)
        for model, ids in wanted.items():
            queryset = self.scoped_queryset(model, work)
            for record in in_values(queryset, "mobile_id", sorted(ids, key=id_order)):
                self.found[(model._meta.label, record.mobile_id)] = record

    def resolve(self, work: DomainWork, entry: Entry) -> EntryOutcome | None:
        """Replace ``entry``'s references by their records; an error if one is unknown."""
        unknown: dict[str, list[str]] = {}
        for name, model in work.domain.references.items():
            mobile_id = parse_id(entry.data.get(name), model)
            if mobile_id is None:
                continue  # absent, null, or malformed: the serializer says so
            key = (model._meta.label, mobile_id)
            record = self.known[key] if key in self.known else self.found.get(key)
            if record is None:
                unknown[name] = [UNKNOWN_MESSAGE]
            else:
                entry.data[name] = record
        if not unknown:
            return None
        name = next(iter(unknown))
        return EntryOutcome.error(
            entry.wire_id, f"{name}: {UNKNOWN_MESSAGE}", unknown, code=UNKNOWN_REFERENCE
        )

    def scoped_queryset(self, model: type[Model], work: DomainWork) -> Any:
        """The live records of ``model`` in the device's scope for that model's domain.

        A synced model no domain declares has no scope: any of its records may be named.
        """
        service = self.service_for(model, work)
        if service is None:
            return model.sync_queryset(work.using).filter(deleted=False)  # type: ignore[attr-defined]
        return service.get_queryset().filter(deleted=False)

    def service_for(self, model: type[Model], work: DomainWork) -> SyncService | None:
        """The service of ``model``'s domain for this request (in the push, or built)."""
        for other in self.works:
            if other.model is model:
                return other.service
        domain = domain_of(model)
        if domain is None:
            return None
        child = work.service
        scope = None  # the domain's scope callable decides, from the same request
        if set(domain.tenant_fields) <= set(child.scope):
            scope = {name: child.scope[name] for name in domain.tenant_fields}
        return domain.service_class(
            domain,
            request=child.request,
            user=child.user,
            device_id=child.device_id,
            scope=scope,
            using=child.using,
        )


def domain_of(model: type[Model]) -> SyncDomain | None:
    """The first declared domain of ``model``."""
    for domain in get_domains().values():
        if domain.model_class is model:
            return domain
    return None
