"""One domain's share of a push: its locked records, each entry decided, staged and written.

A :class:`DomainWork` is created by the push engine (:mod:`django_mobile_sync.engine.push`)
for each domain of a request. Like Django's deletion ``Collector``, it first collects what the
batch does (its existing records, locked with the request's parents by
:meth:`~django_mobile_sync.engine.references.RequestRecords.lock`; :meth:`~DomainWork.decide`:
validate, resolve, stage) and then writes it at once (:meth:`~DomainWork.write`). Every
decision goes through the domain's hooks (:class:`~django_mobile_sync.engine.hooks.SyncHooks`).
It knows the other domains of the request only through
:class:`~django_mobile_sync.engine.references.RequestRecords`, which knows it only through its
public methods.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, transaction
from django.db.models import Model
from rest_framework.exceptions import ValidationError

from ..exceptions import UnstorableValue
from ..models import SyncConflict
from ..records.bulk import bulk_update
from ..records.ids import MobileId, id_order
from ..records.inserts import bulk_create
from ..records.relations import protected_counts, reference_fields
from ..records.storable import to_json
from ..records.syncable import STAMP_FIELDS, SyncableModelMixin, differs, new_record_stamps
from ..resolvers import ConflictContext, ConflictResolver
from .audit import audit_row
from .entries import Entry, ParsedEntries
from .hooks import SyncHooks
from .outcomes import (
    GONE,
    REFERENCED,
    UNKNOWN_MESSAGE,
    UNKNOWN_REFERENCE,
    DomainResult,
    EntryOutcome,
    ItemStatus,
)
from .references import RequestRecords, entry_order
from .view_push import hidden_records, out_of_view

VALIDATION_ERRORS = (ValidationError, DjangoValidationError)


class ApplyMode(Enum):
    """How the engine treats an entry based on an older version than the server's."""

    #: A device's push: a stale entry goes to the domain's conflict resolver.
    DEVICE = "device"
    #: An operator's decision (the admin's re-apply): the entry is applied over the current
    #: version as a new one, and recorded in the audit log as ``reapplied``.
    OVERRIDE = "reapplied"
    #: The device holds the current version, whatever ``version`` says: a WatermelonDB push,
    #: which a guard refuses whole when a record changed after the device's last pull.
    CURRENT = "current"


@dataclass(frozen=True)
class Stamp:
    """The change clock of the push's transaction: one value for all its writes."""

    seq: int
    now: datetime.datetime
    at: str  # ``now`` on the wire, for history entries


@dataclass
class Staged:
    """Records the batch will write, and the entries they come from."""

    created: list[SyncableModelMixin] = field(default_factory=list)
    updated: list[SyncableModelMixin] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    entries: dict[MobileId, Entry] = field(default_factory=dict)
    instances: dict[MobileId, SyncableModelMixin] = field(default_factory=dict)

    def add(self, entry: Entry, instance: SyncableModelMixin, created: bool) -> None:
        (self.created if created else self.updated).append(instance)
        self.entries[entry.mobile_id], self.instances[entry.mobile_id] = entry, instance

    def deleted_pks(self) -> list[Any]:
        """Primary keys of the records this batch turns into tombstones."""
        return [obj.pk for obj in self.updated if obj.deleted and obj.pk is not None]


class DomainWork:
    """The entries of one domain in one push, and what becomes of each."""

    def __init__(
        self, service: SyncHooks, parsed: ParsedEntries, mode: ApplyMode = ApplyMode.DEVICE
    ) -> None:
        self.service, self.mode = service, mode
        self.domain, self.model, self.using = service.domain, service.model, service.using
        self.restart(parsed)

    def restart(self, parsed: ParsedEntries) -> None:
        """Start again from ``parsed``: nothing locked, decided or staged (the push's
        transaction is run again after PostgreSQL aborted it)."""
        self.parsed = parsed
        self.outcomes: dict[int, EntryOutcome] = dict(parsed.answered)
        self.audits: list[SyncConflict] = []
        self.existing: dict[MobileId, SyncableModelMixin] = {}
        self.staged = Staged()
        self.protected: Counter[Any] = Counter()
        self.resolver: ConflictResolver | None = None
        self.hidden: set[Any] = set()

    # -- what the rest of the push may ask ----------------------------------------------------
    @property
    def entries(self) -> list[Entry]:
        """The well-formed entries, in input order."""
        return self.parsed.entries

    @property
    def size(self) -> int:
        """Every entry sent, malformed ones included."""
        return self.parsed.size

    def adopt(self, record: SyncableModelMixin) -> None:
        """Keep ``record``, an existing record of an entry, locked by the caller."""
        self.existing[record.mobile_id] = record

    def existing_record(self, mobile_id: MobileId) -> SyncableModelMixin | None:
        """The locked existing record (a tombstone included) of ``mobile_id``, if any."""
        return self.existing.get(mobile_id)

    def record_left(self, entry: Entry, outcome: EntryOutcome) -> Model | None:
        """The live record ``entry`` leaves for the entries that reference it: the staged
        one, or, for an entry unchanged, refused or failed, the existing one; ``None`` if
        there is none (deleted, or never created)."""
        staged = self.staged.instances.get(entry.mobile_id)
        if outcome.status is not ItemStatus.ERROR and staged is not None:
            return None if staged.deleted else staged
        existing = self.existing.get(entry.mobile_id)
        return existing if existing is not None and not existing.deleted else None

    def deleted_pks(self) -> list[Any]:
        """Primary keys of the records this push turns into tombstones (after :meth:`write`)."""
        return self.staged.deleted_pks()

    def after_save(self) -> None:
        """The service's ``after_save`` hook, with the records written."""
        self.service.after_save(self.staged.created, self.staged.updated)

    # -- collect ----------------------------------------------------------------------------
    def decide(self, stamp: Stamp, records: RequestRecords) -> None:
        """Resolve references, validate, resolve conflicts and stage every entry.

        Nothing is written yet. Entries come in an order where a record a self-reference
        names is decided first; ``records`` learns of every decision.
        """
        self.protected = self.protection(records)
        if self.mode is not ApplyMode.OVERRIDE:  # an operator's re-apply sees every record
            self.hidden = hidden_records(self.service, self.existing.values())
        for entry in entry_order(self):
            outcome = records.resolve(self, entry)
            if outcome is None:
                outcome = self.decide_entry(entry, self.existing.get(entry.mobile_id), stamp)
            self.outcomes[entry.index] = outcome
            records.note(self.model, entry.mobile_id, self.record_left(entry, outcome))

    def protection(self, records: RequestRecords) -> Counter[Any]:
        """Live children keeping this batch's deletions from happening (``PROTECT``)."""
        targets = [
            self.existing[e.mobile_id].pk
            for e in self.parsed.entries
            if e.deleted and e.mobile_id in self.existing
        ]
        return protected_counts(self.model, targets, self.using, records.leaving())

    def decide_entry(
        self, entry: Entry, instance: SyncableModelMixin | None, stamp: Stamp
    ) -> EntryOutcome:
        hidden = instance is not None and instance.pk in self.hidden  # docs/views.md
        if hidden and not self.service.accept_out_of_view(instance, entry.raw):  # type: ignore[arg-type]
            return out_of_view(entry.wire_id)
        if instance is None:
            if self.mode is ApplyMode.OVERRIDE:
                return EntryOutcome.error(
                    entry.wire_id,
                    f"The {self.domain.name} record {entry.mobile_id} no longer exists "
                    "(its tombstone was purged); the device has to create it again.",
                    code=GONE,
                )
            if entry.deleted:
                return EntryOutcome.synced(entry.wire_id, ItemStatus.DELETED, 0)
            return self.create(entry, stamp)
        if entry.deleted:
            changes: dict[str, Any] = {} if instance.deleted else {"deleted": True}
            blocking = self.protected.get(instance.pk, 0) if changes else 0
            if blocking:
                message = (
                    f"{blocking} live record(s) reference this one and protect it from "
                    "deletion; delete them first."
                )
                return EntryOutcome.error(
                    entry.wire_id, message, {"deleted": [message]}, code=REFERENCED
                )
        else:
            try:
                data = self.service.validate_entry(entry.data, instance)
            except VALIDATION_ERRORS as exc:
                return EntryOutcome.invalid(entry.wire_id, exc)
            changes = {k: v for k, v in data.items() if differs(instance, k, v)}
            if instance.deleted:
                changes["deleted"] = False
        if not changes:
            status = ItemStatus.DELETED if entry.deleted else ItemStatus.UNCHANGED
            return EntryOutcome.synced(entry.wire_id, status, instance.version)
        if self.mode is ApplyMode.DEVICE:
            if entry.version > instance.version:
                return EntryOutcome.error(
                    entry.wire_id,
                    f"version {entry.version} is ahead of the server's version "
                    f"{instance.version}; send the version you last received.",
                    {"version": [f"At most {instance.version}."]},
                )
            if entry.version < instance.version:
                return self.resolve(entry, instance, changes, stamp)
        return self.update(entry, instance, changes, stamp)

    def create(self, entry: Entry, stamp: Stamp) -> EntryOutcome:
        try:
            data = self.service.validate_entry(entry.data, None)
        except VALIDATION_ERRORS as exc:
            return EntryOutcome.invalid(entry.wire_id, exc)
        problem = self.service.check_initial_state(data)
        if problem is not None:
            return EntryOutcome.error(entry.wire_id, problem.message, problem.field_errors)
        values = {**new_record_stamps(stamp.seq, stamp.now), **data, **self.service.scope}
        instance = self.model(**{**values, "mobile_id": entry.mobile_id})
        instance.stamp_write(stamp.seq, stamp.now, adding=True)
        try:
            self.record_history(instance, data, stamp)
        except UnstorableValue as exc:
            return EntryOutcome.unstorable_change(entry.wire_id, exc)
        self.service.before_save(instance, created=True)
        self.staged.add(entry, instance, created=True)
        return EntryOutcome(ItemStatus.CREATED, entry.wire_id, 1, changed=sorted(data))

    def update(
        self,
        entry: Entry,
        instance: SyncableModelMixin,
        changes: dict[str, Any],
        stamp: Stamp,
    ) -> EntryOutcome:
        problem = self.service.check_transition(instance, changes)
        if problem is not None:
            return EntryOutcome.error(entry.wire_id, problem.message, problem.field_errors)
        audit = None
        if self.mode is ApplyMode.OVERRIDE:
            try:
                audit = audit_row(self.service, entry, instance, self.mode.value, stamp.now)
            except UnstorableValue as exc:
                return EntryOutcome.unstorable_change(entry.wire_id, exc)
        try:
            self.stage_update(entry, instance, changes, stamp)
        except UnstorableValue as exc:
            return EntryOutcome.unstorable_change(entry.wire_id, exc)
        if audit is not None:
            audit.result_data = to_json(self.service.serialize_record(instance))
            self.audits.append(audit)
        status = ItemStatus.DELETED if entry.deleted else ItemStatus.UPDATED
        return EntryOutcome(status, entry.wire_id, instance.version, changed=sorted(changes))

    def resolve(
        self,
        entry: Entry,
        instance: SyncableModelMixin,
        changes: dict[str, Any],
        stamp: Stamp,
    ) -> EntryOutcome:
        """A stale entry: the domain's resolver settles it; it is audited however it ends."""
        server_data = self.service.serialize_record(instance)
        context = ConflictContext(self.domain, instance, entry.version, changes, entry.raw)
        if self.resolver is None:
            self.resolver = self.service.get_resolver()
        resolution = self.resolver.resolve(context)
        try:
            audit = audit_row(
                self.service, entry, instance, resolution.name, stamp.now, server_data
            )
        except UnstorableValue as exc:
            return EntryOutcome.unstorable_change(entry.wire_id, exc, "server_data")
        self.audits.append(audit)
        if resolution.conflict:
            return EntryOutcome.conflict(
                entry.wire_id, instance.version, entry.version, server_data
            )
        applied = {k: v for k, v in resolution.changes.items() if differs(instance, k, v)}
        if applied:
            problem = self.service.check_transition(instance, applied)
            if problem is not None:
                return EntryOutcome.error(entry.wire_id, problem.message, problem.field_errors)
            try:
                self.stage_update(entry, instance, applied, stamp)
            except UnstorableValue as exc:
                return EntryOutcome.unstorable_change(entry.wire_id, exc)
        result = self.service.serialize_record(instance)
        try:
            audit.result_data = to_json(result)
        except UnstorableValue:
            audit.result_data = None
        return EntryOutcome(
            ItemStatus.RESOLVED,
            entry.wire_id,
            instance.version,
            resolution=resolution.name,
            server_data=result,
            changed=sorted(applied),
        )

    def stage_update(
        self,
        entry: Entry,
        instance: SyncableModelMixin,
        changes: dict[str, Any],
        stamp: Stamp,
    ) -> None:
        for name, value in changes.items():
            setattr(instance, name, value)
            instance.__dict__.pop(f"sync_ref_{name}", None)  # a reference changes parent
        if "deleted" in changes:
            instance.deleted_at = stamp.now if changes["deleted"] else None
            self.staged.fields.add("deleted_at")
        instance.stamp_write(stamp.seq, stamp.now, adding=False, changed=changes)
        self.record_history(instance, changes, stamp)
        self.service.before_save(instance, created=False)
        self.staged.fields.update(changes)
        # Including what before_save set; by field name, as a foreign key's attname would
        # name its column twice.
        names = instance.changed_fields()
        self.staged.fields.update(self.model._meta.get_field(n).name for n in names)
        self.staged.add(entry, instance, created=False)

    def record_history(
        self, instance: SyncableModelMixin, changes: dict[str, Any], stamp: Stamp
    ) -> None:
        """The history entry of a change (the ``append_history`` hook); raises
        :class:`UnstorableValue` when the change cannot be stored."""
        self.service.append_history(instance, changes, stamp.at)
        if self.domain.history_field:
            self.staged.fields.add(self.domain.history_field)

    # -- write ------------------------------------------------------------------------------
    def write(self, stamp: Stamp, records: RequestRecords) -> None:
        """Write the staged records at once; isolate the ones the database refuses.

        Creates go level by level when records of this batch reference each other: a parent
        gets its primary key before its children are written. A record whose parent could
        not be stored fails with it.
        """
        staged, create = self.staged, partial(bulk_create, self.model, using=self.using)
        remaining = staged.created
        staged.created = []
        while remaining:  # sets of id(): Model.__eq__ in a list scan is quadratic
            pending = {id(obj) for obj in remaining}
            level = [obj for obj in remaining if not self.waits_for_parent(obj, pending)]
            level = level or remaining  # a cycle: let the database refuse it
            placed = {id(obj) for obj in level}
            remaining = [obj for obj in remaining if id(obj) not in placed]
            level = self.drop_orphans(level, records)
            level.sort(key=lambda obj: id_order(obj.mobile_id))  # same lock order everywhere
            self.write_isolated(level, create, stamp, creating=True)
            for obj in level:
                staged.created.append(obj)
        staged.updated = self.drop_orphans(staged.updated, records)
        if staged.updated:
            staged.updated.sort(key=lambda obj: obj.pk)
            names = sorted({*staged.fields, *STAMP_FIELDS})

            def update(objs: Sequence[SyncableModelMixin]) -> Any:
                return bulk_update(self.model, objs, names, self.using)

            self.write_isolated(staged.updated, update, stamp, creating=False)

    def write_isolated(
        self,
        objs: list[SyncableModelMixin],
        write: Callable[[list[SyncableModelMixin]], Any],
        stamp: Stamp,
        creating: bool,
    ) -> None:
        """Write ``objs`` at once; when that fails, one by one to isolate the bad ones.

        A deadlock is no fault of a record: it aborts the push, which runs again.
        """
        try:
            with transaction.atomic(using=self.using):
                write(objs)
            return
        except DatabaseError as exc:
            if is_deadlock(exc):
                raise
        kept = []
        for obj in objs:
            try:
                with transaction.atomic(using=self.using):
                    write([obj])
                kept.append(obj)
            except DatabaseError as exc:
                if is_deadlock(exc):
                    raise
                entry = self.staged.entries[obj.mobile_id]
                self.outcomes[entry.index] = self.write_failed(entry, obj, stamp, creating)
        objs[:] = kept

    def parent(self, obj: SyncableModelMixin, name: str) -> SyncableModelMixin | None:
        """The record ``obj.name`` was set to in this push, without a query (or ``None``)."""
        field: Any = self.model._meta.get_field(name)
        parent: SyncableModelMixin | None = field.get_cached_value(obj, None)
        return parent

    def waits_for_parent(self, obj: SyncableModelMixin, pending: set[int]) -> bool:
        """Whether ``obj`` references a record still to write (``pending``: their ``id()``)
        other than itself."""
        for name in reference_fields(self.domain):
            parent = self.parent(obj, name)
            if parent is not None and parent is not obj and id(parent) in pending:
                return True
        return False

    def drop_orphans(
        self, objs: list[SyncableModelMixin], records: RequestRecords
    ) -> list[SyncableModelMixin]:
        """``objs`` without the records whose parent was never stored (their entry fails)."""
        kept = []
        for obj in objs:
            orphan = [
                name
                for name in reference_fields(self.domain)
                if (parent := self.parent(obj, name)) is not None and parent.pk is None
            ]
            if not orphan:
                kept.append(obj)
                continue
            entry = self.staged.entries[obj.mobile_id]
            self.outcomes[entry.index] = EntryOutcome.error(
                entry.wire_id,
                f"{orphan[0]}: {UNKNOWN_MESSAGE}",
                {name: [UNKNOWN_MESSAGE] for name in orphan},
                code=UNKNOWN_REFERENCE,
            )
            records.forget(self.model, entry.mobile_id)
        return kept

    def write_failed(
        self, entry: Entry, obj: SyncableModelMixin, stamp: Stamp, creating: bool
    ) -> EntryOutcome:
        """The answer for a record the database refused on its own.

        A create that lost a race with a concurrent create of the same ``mobile_id`` (now
        committed) is answered like any write at a stale base version: ``unchanged`` when
        it carries the same data, else ``conflict``. Anything else is an ``error``.
        """
        current = None
        if creating:
            current = self.service.get_queryset().filter(mobile_id=entry.mobile_id).first()
        if current is None:
            return EntryOutcome.error(
                entry.wire_id,
                "The record could not be stored: it breaks a database constraint. "
                "Pull, then retry.",
            )
        sent = [name for name in self.domain.wire_fields if name in entry.data]
        if not any(differs(current, name, getattr(obj, name)) for name in sent):
            return EntryOutcome.synced(entry.wire_id, ItemStatus.UNCHANGED, current.version)
        server_data = self.service.serialize_record(current)
        try:
            self.audits.append(
                audit_row(self.service, entry, current, "rejected", stamp.now, server_data)
            )
        except UnstorableValue as exc:
            return EntryOutcome.unstorable_change(entry.wire_id, exc, "server_data")
        return EntryOutcome.conflict(entry.wire_id, current.version, entry.version, server_data)

    def result(self) -> DomainResult:
        """The outcome of every entry, in input order; call after :meth:`write`."""
        outcomes = [self.outcomes[index] for index in range(self.parsed.size)]
        return DomainResult(self.domain.name, outcomes, self.audits)


def is_deadlock(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL aborting the transaction to break a deadlock (40P01)."""
    cause = exc.__cause__
    return (getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)) == "40P01"
