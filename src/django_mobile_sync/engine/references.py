"""References between the records of one push: ``mobile_id``s resolved to records.

A device creates a parent and its children offline and pushes them together, in any order,
in one domain or across the domains of a multi-domain push (docs/relations.md).
:class:`RequestRecords` is what the push engine knows of records across the whole request:

- the order to decide and write the domains in (parents first, :func:`parents_first`);
- the records decided so far, by model and ``mobile_id``: created, kept, or gone (deleted,
  or failed to be created), consulted before the database;
- for each domain, its entries' references resolved to records: the staged parent, or one
  query per referenced model for the existing, live parents of the device's scope;
- the locks of the push (:meth:`RequestRecords.lock`): its own records and the existing
  parents its entries name or keep, parents first, so that a parent deleted by another
  transaction meanwhile is either seen gone or sees the children (docs/relations.md).

An id that resolves to nothing in the scope (unknown, deleted, another tenant's, or a parent
that failed in this request) is an ``unknown_reference`` error on that field, with the same
message whatever the reason, so nothing reveals another tenant's records.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Model

from ..domains import SyncDomain, get_domains
from ..records.bulk import any_of, in_values, lock_live
from ..records.ids import MobileId, id_order, read_mobile_id, uses_text_ids
from ..records.relations import lock_rank, reference_fields
from .entries import Entry
from .outcomes import UNKNOWN_MESSAGE, UNKNOWN_REFERENCE, EntryOutcome
from .view_push import visible_to

if TYPE_CHECKING:
    from ..records.syncable import SyncableModelMixin
    from .domain_work import DomainWork
    from .hooks import SyncHooks

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
            if not any(
                m in models and m is not d.model_class for m in reference_fields(d).values()
            )
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
    own = [name for name, model in reference_fields(work.domain).items() if model is work.model]
    entries = work.entries
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
        self.deleted: set[tuple[type[Model], MobileId]] = {
            (work.model, entry.mobile_id)
            for work in works
            for entry in work.entries
            if entry.deleted
        }
        #: The records the request itself writes: they are locked as its own.
        self.own: set[Key] = {
            (work.model._meta.label, entry.mobile_id) for work in works for entry in work.entries
        }
        self.found: dict[Key, Model] = {}
        #: Primary keys locked as parents, and the live ones among them, by model label.
        self.locked: dict[str, set[Any]] = {}
        self.live: dict[str, set[Any]] = {}
        self.own_by_pk: dict[tuple[str, Any], Model] = {}
        #: Each domain's existing records, as locked (by ``id()`` of its work).
        self.adopted: dict[int, list[SyncableModelMixin]] = {}

    def leaving(self) -> set[tuple[type[Model], MobileId]]:
        """``(model, mobile_id)`` of every record the request deletes: children deleted in the
        same request do not protect their parent."""
        return self.deleted

    # -- locking ------------------------------------------------------------------------------
    def lock(self) -> None:
        """Lock what the request writes and the existing parents it names or keeps, parents
        first: one statement per model, models in
        :func:`~django_mobile_sync.records.relations.lock_rank` order.

        A delete locks its rows ``FOR UPDATE`` before it counts or reads their children, so
        a parent locked here either waits for this push's children to commit (the delete then
        sees them), or was deleted first (it drops out here: ``unknown_reference``); see
        docs/relations.md. A model the request writes is locked ``FOR UPDATE``, its own
        records and the parents among its rows in one statement; a model it only names is
        locked ``FOR KEY SHARE`` (:func:`~django_mobile_sync.records.bulk.lock_live`), which
        other pushes naming the same parents share. Taking the parents' locks before the
        children's, in the order every delete and cascade follows, keeps two pushes, or a push
        and a delete, from waiting for each other in a circle. The reads before the locks take
        none.
        """
        parents = self.read_parents()
        writers: dict[type[Model], list[DomainWork]] = {}
        for work in sorted(self.works, key=lambda w: w.domain.name):
            writers.setdefault(work.model, []).append(work)
        for model in sorted({*writers, *parents}, key=lock_rank):
            label = model._meta.label
            named_by, pks = parents.get(model, (None, set()))
            self.locked[label] = set(pks)
            if model in writers:
                first, *others = writers[model]
                self.live[label] = self.lock_own(first, pks)
                for other in others:
                    self.lock_own(other)
            elif named_by is not None:
                self.live[label] = lock_live(self.scoped_queryset(model, named_by), pks)
        self.found = {key: r for key, r in self.found.items() if r.pk in self.live[key[0]]}
        for work in self.works:
            label = work.model._meta.label
            for record in self.adopted.get(id(work), []):
                self.own_by_pk[(label, record.pk)] = record
                if not record.deleted:  # named by an entry decided before it (a cycle)
                    self.found.setdefault((label, record.mobile_id), record)

    def lock_own(self, work: DomainWork, parents: Collection[Any] = ()) -> set[Any]:
        """Read and lock the domain's existing records (tombstones included), handed to
        ``work`` (:meth:`~.domain_work.DomainWork.adopt`), with the rows of its model the
        request names as parents (``parents``: primary keys), in one query; returns the live
        ones among ``parents``.

        ``FOR UPDATE``, in primary key order, through the domain's scope: it conflicts with
        every other writer's lock of the same rows, a push naming them as parents included.
        """
        ids = [entry.mobile_id for entry in work.entries]
        if not ids and not parents:
            return set()
        condition = any_of(work.using, "mobile_id", ids)
        if parents:
            condition |= any_of(work.using, "pk", sorted(parents))
        rows = work.service.get_queryset().filter(condition).select_for_update().order_by("pk")
        own, live = set(ids), set()
        adopted = self.adopted.setdefault(id(work), [])
        for record in rows:
            if record.mobile_id in own:
                work.adopt(record)
                adopted.append(record)
            if record.pk in parents and not record.deleted:
                live.add(record.pk)
        return live

    def read_parents(self) -> dict[type[Model], tuple[DomainWork, set[Any]]]:
        """Without locking: the existing parents the entries name (kept in ``found``) and the
        parents the request's existing records point to now, as primary keys by model (with
        the first domain naming them, whose scope the lock uses)."""
        parents: dict[type[Model], tuple[DomainWork, set[Any]]] = {}
        for work in self.works:
            for read in (self.prefetch(work), self.current_parents(work)):
                for model, pks in read.items():
                    parents.setdefault(model, (work, set()))[1].update(pks)
        return parents

    def current_parents(self, work: DomainWork) -> dict[type[Model], set[Any]]:
        """The parents the domain's existing records point to now: one query.

        Locked with the named ones, so that an edit that does not name its parent (or brings
        back a tombstone) is ordered against that parent's delete like the others.
        """
        references = reference_fields(work.domain)
        if not references or not work.entries:
            return {}
        ids = [entry.mobile_id for entry in work.entries]
        fields: list[Any] = [work.model._meta.get_field(name) for name in references]
        names = [field.attname for field in fields]
        found: dict[type[Model], set[Any]] = {}
        rows = in_values(work.service.get_queryset(), "mobile_id", ids).values_list(*names)
        for row in rows:
            for model, pk in zip(references.values(), row, strict=True):
                if pk is not None:
                    found.setdefault(model, set()).add(pk)
        return found

    # -- what the request decided --------------------------------------------------------------
    def note(self, model: type[Model], mobile_id: MobileId, record: Model | None) -> None:
        """Remember the live record a decided entry leaves (``None``: none), for the entries
        that reference it."""
        self.known[(model._meta.label, mobile_id)] = record

    def forget(self, model: type[Model], mobile_id: MobileId) -> None:
        """A staged record the database refused: its children fail too."""
        self.known[(model._meta.label, mobile_id)] = None

    # -- resolving ----------------------------------------------------------------------------
    def prefetch(self, work: DomainWork) -> dict[type[Model], set[Any]]:
        """Find the existing, live parents the domain's entries name (other than the
        request's own records): one query a model, without a lock (:meth:`lock` takes it).
        Returns their primary keys by model."""
        wanted: dict[type[Model], set[MobileId]] = {}
        for entry in work.entries:
            for name, model in reference_fields(work.domain).items():
                mobile_id = parse_id(entry.data.get(name), model)
                if mobile_id is None:
                    continue
                key = (model._meta.label, mobile_id)
                if key not in self.own and key not in self.found:
                    wanted.setdefault(model, set()).add(mobile_id)
        pks: dict[type[Model], set[Any]] = {}
        for model, ids in wanted.items():
            service = self.service_for(model, work)
            queryset = visible_to(service, self.scoped_queryset(model, work, service))
            for record in in_values(queryset, "mobile_id", sorted(ids, key=id_order)):
                self.found[(model._meta.label, record.mobile_id)] = record
                pks.setdefault(model, set()).add(record.pk)
        return pks

    def resolve(self, work: DomainWork, entry: Entry) -> EntryOutcome | None:
        """Replace ``entry``'s references by their records; an error if one is unknown.

        An entry that brings a tombstone back without naming a parent keeps the parent the
        record points to: that parent must be live too.
        """
        unknown: dict[str, list[str]] = {}
        existing = work.existing_record(entry.mobile_id)
        revives = existing is not None and existing.deleted and not entry.deleted
        for name, model in reference_fields(work.domain).items():
            if name not in entry.data:
                if revives and not self.keeps_live_parent(work, existing, name, model):
                    unknown[name] = [UNKNOWN_MESSAGE]
                continue
            mobile_id = parse_id(entry.data.get(name), model)
            if mobile_id is None:
                continue  # null, or malformed: the serializer says so
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

    def keeps_live_parent(
        self, work: DomainWork, record: Any, name: str, model: type[Model]
    ) -> bool:
        """Whether the parent ``record.<name>`` points to (if any) is live for this request."""
        field: Any = work.model._meta.get_field(name)
        pk = getattr(record, field.attname)
        if pk is None:
            return True
        label = model._meta.label
        own = self.own_by_pk.get((label, pk))
        if own is not None:
            key = (label, own.mobile_id)  # type: ignore[attr-defined]
            parent = self.known[key] if key in self.known else self.found.get(key)
            return parent is not None
        if pk not in self.locked.setdefault(label, set()):
            # The record moved to this parent after read_parents() read it: lock it now,
            # out of the usual order (a rare race; see docs/relations.md).
            self.locked[label].add(pk)
            live = lock_live(self.scoped_queryset(model, work), [pk])
            self.live.setdefault(label, set()).update(live)
        return pk in self.live.get(label, set())

    def scoped_queryset(
        self, model: type[Model], work: DomainWork, service: SyncHooks | None = None
    ) -> Any:
        """The live records of ``model`` in the device's scope for that model's domain
        (``service``: that domain's, if already built).

        A synced model no domain declares has no scope: any of its records may be named.
        """
        service = service or self.service_for(model, work)
        if service is None:
            return model.sync_queryset(work.using).filter(deleted=False)  # type: ignore[attr-defined]
        return service.get_queryset().filter(deleted=False)

    def service_for(self, model: type[Model], work: DomainWork) -> SyncHooks | None:
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
