"""The push of WatermelonDB's sync protocol: every local change, applied whole or refused.

:func:`read_changes` checks the shape of the pushed changes object, ``{table: {created,
updated, deleted}}``: the body WatermelonDB's documented ``pushChanges`` sends.
:func:`apply_changes` applies it through the push engine
(:class:`~django_mobile_sync.engine.PushBatch`) in one transaction. The engine's guard refuses
the whole push (:class:`RecordsChangedSincePull`, a ``409``) when ``last_pulled_at`` is not
a checkpoint of this user and state (:mod:`.checkpoints`), or
when a pushed record changed on the server at or after its position, other than by the
device's own pushes made with that checkpoint: the device pulls, merges and pushes again.
Otherwise the device holds the current version of every record it pushes
(:attr:`~django_mobile_sync.engine.ApplyMode.CURRENT`). A record refused on its own
(validation, workflow, a reference to nothing) goes in ``experimentalRejectedIds``: it
stays dirty on the device and is pushed again at its next sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rest_framework.exceptions import ValidationError

from django_mobile_sync.engine import (
    ApplyMode,
    DomainResult,
    ItemStatus,
    LockedEntry,
    PushBatch,
)
from django_mobile_sync.records import read_clock, read_mobile_id, uses_text_ids

from .checkpoints import Checkpoints, state_of
from .models import WatermelonPush
from .tables import Table, to_entry

if TYPE_CHECKING:
    from django_mobile_sync.models import SyncBatch
    from django_mobile_sync.service import SyncService

#: Why a push whose ``last_pulled_at`` is not a checkpoint of this user and state is refused.
STALE = (
    "last_pulled_at is not a timestamp this server gave you in its current state (another "
    "user's, a reset, a restore, another tenant or set of tables); nothing was applied. "
    "Pull, then push again."
)
#: The three lists of a table's change set.
CHANGE_LISTS = ("created", "updated", "deleted")
#: The key of the wrapped push body, ``{"changes": {...}}``.
WRAPPER = "changes"


class RecordsChangedSincePull(Exception):
    """Pushed records changed on the server after ``last_pulled_at`` (a ``409``).

    Attributes:
        records: ``{table: [id, ...]}``.
    """

    def __init__(self, records: Mapping[str, list[str]], detail: str = "") -> None:
        self.records = dict(records)
        count = sum(len(ids) for ids in self.records.values())
        super().__init__(
            detail
            or f"{count} pushed record(s) changed on the server after last_pulled_at; "
            "nothing was applied. Pull, then push again."
        )

    def as_dict(self) -> dict[str, Any]:
        return {"detail": str(self), "code": "changed_since_pull", "records": self.records}


@dataclass
class TableChanges:
    """One table's pushed change set."""

    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)


@dataclass
class WatermelonPushResult:
    """Records refused one by one, per table, and why."""

    rejected: dict[str, list[str]] = field(default_factory=dict)
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"experimentalRejectedIds": self.rejected, "rejected": self.reasons}


def read_changes(body: Any, tables: Mapping[str, Table]) -> dict[str, TableChanges]:
    """The pushed change sets, by table; a ``400`` naming what is wrong with the shape.

    The body is the changes object itself, as WatermelonDB's documented ``pushChanges``
    sends it (``JSON.stringify(changes)``); ``{"changes": {...}}`` is read the same way
    unless a mapped table is named ``changes``.
    """
    changes_object = unwrapped(body, tables)
    if changes_object is None:
        raise ValidationError(
            {
                "changes": [
                    'The body must be the changes object, {"<table>": {"created": [...], '
                    '"updated": [...], "deleted": [...]}}.'
                ]
            },
            code="invalid_envelope",
        )
    changes: dict[str, TableChanges] = {}
    for name, change_set in changes_object.items():
        if name not in tables and is_empty(change_set):
            continue  # WatermelonDB lists every table of the app, local-only ones too
        if name not in tables:
            known = ", ".join(sorted(tables)) or "none"
            raise ValidationError(
                {"changes": [f"{name!r} is not a synced table; the tables are: {known}."]},
                code="unknown_table",
            )
        changes[name] = read_change_set(name, change_set)
    return changes


def unwrapped(body: Any, tables: Mapping[str, Table]) -> dict[str, Any] | None:
    """The changes object of a push body, or ``None`` if the body is not an object.

    ``{"changes": {...}}`` alone is the wrapped form when no mapped table is named
    ``changes``; otherwise the body is the changes object.
    """
    if not isinstance(body, dict):
        return None
    if set(body) == {WRAPPER} and WRAPPER not in tables:
        inner = body[WRAPPER]
        return inner if isinstance(inner, dict) else None
    return body


class CheckpointPush(PushBatch):
    """A WatermelonDB push: it records, in its transaction, the checkpoint it was made with
    (:class:`~.models.WatermelonPush`), which makes its writes the device's own.

    Args:
        using: the database.
        checkpoint: the checkpoint the device presented (``last_pulled_at``).
        user: who pushes.
        **options: :class:`~django_mobile_sync.engine.PushBatch`'s.
    """

    def __init__(self, using: str, checkpoint: int, user: Any, **options: Any) -> None:
        super().__init__(using, **options)
        self.checkpoint, self.user = checkpoint, user

    def write_batch_log(
        self, results: Sequence[DomainResult], duration_ms: int, change_seq: int
    ) -> list[SyncBatch]:
        batches = super().write_batch_log(results, duration_ms, change_seq)
        WatermelonPush.objects.using(self.using).create(
            checkpoint=self.checkpoint,
            change_seq=change_seq,
            user_id=getattr(self.user, "pk", None),
        )
        return batches


def is_empty(change_set: Any) -> bool:
    """A change set with nothing in it (``{"created": [], "updated": [], "deleted": []}``)."""
    return isinstance(change_set, dict) and not any(change_set.get(k) for k in CHANGE_LISTS)


def read_change_set(name: str, change_set: Any) -> TableChanges:
    if not isinstance(change_set, dict) or set(change_set) - set(CHANGE_LISTS):
        raise ValidationError(
            {name: ["A table's changes are an object with created, updated and deleted lists."]},
            code="invalid_envelope",
        )
    lists = {key: change_set.get(key, []) for key in CHANGE_LISTS}
    if not all(isinstance(value, list) for value in lists.values()):
        raise ValidationError(
            {name: ["created, updated and deleted must be lists."]}, code="invalid_envelope"
        )
    for key in ("created", "updated"):
        if not all(isinstance(raw, dict) for raw in lists[key]):
            raise ValidationError(
                {name: [f"Every record in {key} must be an object with an id."]},
                code="invalid_envelope",
            )
    if not all(isinstance(record_id, str) for record_id in lists["deleted"]):
        raise ValidationError(
            {name: ["deleted must list ids (strings)."]}, code="invalid_envelope"
        )
    return TableChanges(lists["created"], lists["updated"], lists["deleted"])


def apply_changes(
    tables: Mapping[str, tuple[Table, SyncService]],
    changes: Mapping[str, TableChanges],
    since: int,
    *,
    idempotency_key: str = "",
) -> WatermelonPushResult:
    """Apply ``changes`` in one transaction, or raise :class:`RecordsChangedSincePull`.

    ``since`` is the checkpoint of the device's last pull: a checkpoint of another user or
    state, or none at all, refuses the push. A record changed at or after its position by
    the device's own pushes made with that checkpoint (or carried into it from the one it
    replaced) does not refuse the push: the device holds that version. This keeps a device
    that edits its own new records from being refused while a long transaction holds the
    PostgreSQL horizon, and so its checkpoint's position, below its own pushes. Another
    device, whatever ``X-Device-Id`` it sends, holds another checkpoint.
    """
    names = [name for name in tables if name in changes and changes[name].size]
    if not names:
        return WatermelonPushResult()
    service = tables[names[0]][1]
    using = service.using
    reading = read_clock(using)
    checkpoints = Checkpoints(using, service.user)
    held = checkpoints.find(since)
    services = [(name, table_service) for name, (_table, table_service) in tables.items()]
    if held is None or not held.serves(state_of(using, reading, services), reading.clock):
        raise RecordsChangedSincePull({}, STALE)
    start = held.position
    own = set(checkpoints.own_writes(held))

    def guard(locked: Sequence[LockedEntry]) -> None:
        changed: dict[str, list[str]] = {}
        for item in locked:
            record = item.record
            if record is not None and record.change_seq >= start and record.change_seq not in own:
                changed.setdefault(names[item.part], []).append(item.entry.wire_id)
        if changed:
            raise RecordsChangedSincePull(changed)

    batch = CheckpointPush(
        using, held.pk, service.user, idempotency_key=idempotency_key, guard=guard
    )
    unusable_deletes: dict[str, set[str]] = {}
    for name in names:
        table, service = tables[name]
        change_set = changes[name]
        entries = [to_entry(table, raw) for raw in [*change_set.created, *change_set.updated]]
        entries += [to_entry(table, {"id": gone}, deleted=True) for gone in change_set.deleted]
        text = uses_text_ids(table.domain.model_class)
        unusable_deletes[name] = {
            gone for gone in change_set.deleted if read_mobile_id(gone, text) is None
        }
        batch.add(service, entries, ApplyMode.CURRENT)
    result = WatermelonPushResult()
    for name, domain_result in zip(names, batch.apply(), strict=True):
        for outcome in domain_result.of(ItemStatus.ERROR):
            record_id = str(outcome.mobile_id)
            if record_id in unusable_deletes[name]:
                continue  # a deleted id no record can have: nothing to delete (rule 4)
            result.rejected.setdefault(name, []).append(record_id)
            result.reasons.append(
                {
                    "table": name,
                    "id": record_id,
                    "code": outcome.code or "invalid",
                    "detail": outcome.error_message,
                    "errors": outcome.field_errors,
                }
            )
    return result
