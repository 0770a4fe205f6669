"""The push engine: the entries of one or several domains, applied in one transaction.

:class:`PushBatch` is the one public unit of work that the HTTP views, the admin's re-apply
and the client adapters call::

    batch = PushBatch(using="default")
    batch.add(work_orders_service, entries_a)
    batch.add(checklist_service, entries_b)
    results = batch.apply()  # one DomainResult per add(), in order

The steps, for every domain of the batch: parse the entries (on :meth:`PushBatch.add`), then
in one transaction lock the existing records and the parents they name, parents first
(:meth:`~django_mobile_sync.engine.references.RequestRecords.lock`), validate, resolve and stage
every entry, write the staged records in bulk, call ``after_save``, and write the audit rows
and batch logs. Signals are sent after the transaction. A crash anywhere leaves nothing
applied.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from .. import signals
from ..models import SyncBatch, SyncConflict
from ..records.clock import next_change_seq
from ..records.ids import uses_text_ids
from ..records.referents import hold_referents
from ..records.relations import apply_on_delete
from ..records.storable import format_timestamp
from .domain_work import ApplyMode, DomainWork, Stamp, is_deadlock
from .entries import Entry, ParsedEntries, parse_entries
from .hooks import SyncHooks
from .outcomes import DomainResult, ItemStatus
from .references import RequestRecords, parents_first

if TYPE_CHECKING:
    from ..records.syncable import SyncableModelMixin

logger = logging.getLogger("django_mobile_sync")

#: How many times a push runs when PostgreSQL aborts it to break a deadlock.
DEADLOCK_ATTEMPTS = 3


@dataclass(frozen=True)
class LockedEntry:
    """An entry of the push and its existing record as locked, for a ``guard``.

    Attributes:
        part: which :meth:`PushBatch.add` the entry came with (0 for the first).
        entry: the entry, as parsed.
        record: the existing record (a tombstone included), locked until the push ends;
            ``None`` for a record the push creates.
    """

    part: int
    entry: Entry
    record: SyncableModelMixin | None


class PushBatch:
    """The entries of one or several domains, applied in one database transaction.

    Args:
        using: the database alias; every domain added must run on it.
        idempotency_key: recorded in the batch log.
        log: write a batch log row (``SyncBatch``) per domain and the log line; the admin's
            re-apply, which is not a push, does not.
        guard: called with every entry and its locked record (:class:`LockedEntry`) once the
            records are locked, before any decision; raising refuses the whole push
            (nothing is applied).
    """

    def __init__(
        self,
        using: str,
        *,
        idempotency_key: str = "",
        log: bool = True,
        guard: Callable[[Sequence[LockedEntry]], None] | None = None,
    ) -> None:
        self.using, self.idempotency_key, self.log = using, idempotency_key, log
        self.guard = guard
        self.works: list[DomainWork] = []
        self.sent: list[Sequence[Any]] = []  # each work's entries, to parse again
        self.batches: list[SyncBatch] = []

    def add(
        self, service: SyncHooks, entries: Sequence[Any], mode: ApplyMode = ApplyMode.DEVICE
    ) -> None:
        """Add one domain's entries (as the device sent them); parsed at once."""
        if service.using != self.using:
            raise ValueError(
                f"{service.domain.name} runs on the database {service.using!r}, this push "
                f"on {self.using!r}: one push writes one database."
            )
        self.works.append(DomainWork(service, self.parse(service, entries), mode))
        self.sent.append(entries)

    @staticmethod
    def parse(service: SyncHooks, entries: Sequence[Any]) -> ParsedEntries:
        """One domain's entries read (on :meth:`add`, and again for a run after a deadlock)."""
        text_ids = uses_text_ids(service.model)
        return parse_entries(entries, service.domain.read_only_fields, text_ids)

    @property
    def size(self) -> int:
        """Entries in the batch, across domains."""
        return sum(work.size for work in self.works)

    def apply(self) -> list[DomainResult]:
        """Apply every entry in one transaction; one result per :meth:`add`, in order.

        Writers lock parents first in one order, but no order of the rows of one model suits
        every tree of records that point to each other (docs/relations.md): when PostgreSQL
        aborts the transaction to break a deadlock, the batch runs again from the start, up
        to ``DEADLOCK_ATTEMPTS`` times, if the transaction is its own (not a caller's). The
        hooks then run again too; signals are only sent after the commit.
        """
        owns_transaction = not connections[self.using].in_atomic_block
        attempt = 1
        while True:
            try:
                results = self.apply_once()
                break
            except DatabaseError as exc:
                if not (owns_transaction and is_deadlock(exc)) or attempt == DEADLOCK_ATTEMPTS:
                    raise
            logger.warning("Push aborted to break a deadlock; running it again (%d)", attempt)
            time.sleep(random.uniform(0.01, 0.05) * attempt)  # out of step with the other
            for work, entries in zip(self.works, self.sent, strict=True):
                work.restart(self.parse(work.service, entries))
            attempt += 1
        self.announce(results)
        return results

    def apply_once(self) -> list[DomainResult]:
        """One run of the transaction of :meth:`apply`."""
        started = time.monotonic()
        with transaction.atomic(using=self.using):
            now = timezone.now()
            stamp = Stamp(next_change_seq(self.using), now, format_timestamp(now))
            records = RequestRecords(self.works)
            records.lock()  # parents first, in the order every writer follows
            if self.guard is not None:
                self.guard(self.locked_entries())
            ordered = parents_first(self.works)  # a parent is decided and written first
            for work in ordered:
                work.decide(stamp, records)
            # What the live records will refer to (a file) is held before they are written
            # and until this commits, so a purge either sees the hold or has removed the
            # file already: one statement per push (records/referents.py,
            # docs/files.md#clean-up).
            hold_referents([(w.service.scope, staged_live(w)) for w in ordered], self.using)
            for work in ordered:
                work.write(stamp, records)
            for work in ordered:  # CASCADE, SET_NULL...: the children of deleted records
                apply_on_delete(work.model, work.deleted_pks(), self.using)
            for work in ordered:
                work.after_save()
            results = [work.result() for work in self.works]
            self.on_commit(results)
            audits = [audit for result in results for audit in result.audits]
            SyncConflict.objects.using(self.using).bulk_create(audits)
            if self.log:
                duration = int((time.monotonic() - started) * 1000)
                self.batches = self.write_batch_log(results, duration, stamp.seq)
        return results

    def on_commit(self, results: Sequence[DomainResult]) -> None:
        """Send ``changes_committed`` once the transaction commits, if the push wrote."""
        written = {ItemStatus.CREATED, ItemStatus.UPDATED, ItemStatus.DELETED, ItemStatus.RESOLVED}
        domains = [
            work.domain.name
            for work, result in zip(self.works, results, strict=True)
            if any(outcome.status in written for outcome in result.outcomes)
        ]
        if not domains:
            return
        using = self.using

        def send() -> None:
            signals.changes_committed.send(sender=PushBatch, using=using, domains=domains)

        transaction.on_commit(send, using=using)

    def locked_entries(self) -> list[LockedEntry]:
        """Every entry with its locked existing record, in the order of :meth:`add`."""
        return [
            LockedEntry(part, entry, work.existing_record(entry.mobile_id))
            for part, work in enumerate(self.works)
            for entry in work.entries
        ]

    def write_batch_log(
        self, results: Sequence[DomainResult], duration_ms: int, change_seq: int
    ) -> list[SyncBatch]:
        """The batch log rows (``SyncBatch``), one per domain, inside the push's transaction.

        Override it to record more about the push in the same transaction (call
        ``super()``); ``change_seq`` is the change clock value of the push's writes.
        """
        rows = [
            self.batch_row(work, result, duration_ms, change_seq)
            for work, result in zip(self.works, results, strict=True)
        ]
        return SyncBatch.objects.using(self.using).bulk_create(rows)

    def batch_row(
        self, work: DomainWork, result: DomainResult, duration_ms: int, change_seq: int
    ) -> SyncBatch:
        service = work.service
        return SyncBatch(
            change_seq=change_seq,
            domain=work.domain.name,
            user_id=getattr(service.user, "pk", None),
            device_id=service.device_id[:255],
            idempotency_key=self.idempotency_key,
            entries=work.size,
            duration_ms=duration_ms,
            **result.counts(),
        )

    def announce(self, results: list[DomainResult]) -> None:
        """The log line and the signals, once the transaction has committed."""
        for index, (work, result) in enumerate(zip(self.works, results, strict=True)):
            sender, domain = type(work.service), work.domain
            for audit in result.audits:
                signals.conflict_detected.send(sender=sender, domain=domain, conflict=audit)
            if not self.log:
                continue
            batch = self.batches[index]
            fields = {
                "domain": domain.name,
                "user": batch.user_id,
                "device": batch.device_id,
                "entries": batch.entries,
                **result.counts(),
                "duration_ms": batch.duration_ms,
            }
            logger.info(
                "Sync batch processed " + " ".join(f"{k}=%s" for k in fields),
                *fields.values(),
                extra={"sync_batch": fields},
            )
            for outcome in result.of(ItemStatus.ERROR):
                signals.item_rejected.send(
                    sender=sender, domain=domain, item=outcome.as_dict(), batch=batch
                )
            signals.batch_synced.send(sender=sender, domain=domain, batch=batch, result=result)


def staged_live(work: DomainWork) -> list[SyncableModelMixin]:
    """The live records ``work`` is to write (decided, before its ``write()``)."""
    return [obj for obj in (*work.staged.created, *work.staged.updated) if not obj.deleted]
