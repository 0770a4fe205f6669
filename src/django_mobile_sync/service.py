"""``SyncService``: runs a push batch and a pull page for one domain.

Override the small hook methods (``get_scope``, ``get_queryset``, ``validate_entry``,
``before_save``, ``after_save``, ``get_pull_queryset``, ``serialize_record``) in a subclass
and name it in the domain's ``service`` option.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, router, transaction
from django.db.models import Field, Model
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from . import signals
from .bulk import bulk_update, in_values
from .changes import after_position, next_change_seq, pull_horizon
from .conf import sync_settings
from .cursor import START, InvalidCursor, Position, decode_cursor, encode_cursor
from .domains import SYSTEM_FIELDS, SyncDomain
from .models import STAMP_FIELDS, SyncableModelMixin, SyncBatch, SyncConflict, TombstonePurge
from .resolvers import ConflictContext
from .serializers import format_timestamp
from .storable import UNSTORABLE, UnstorableValue, entry_problems, to_json

logger = logging.getLogger("django_mobile_sync")


class CursorExpired(Exception):
    """The cursor is older than the last tombstone purge: the device must resync."""


@dataclass
class Entry:
    """One well-formed push entry."""

    index: int
    mobile_id: uuid.UUID
    wire_id: str  # the mobile_id exactly as the device sent it, echoed in the answer
    version: int
    deleted: bool
    data: dict[str, Any]
    raw: dict[str, Any]


@dataclass
class PushResult:
    """The per-item outcome of a push, in input order within each list."""

    synced_items: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    timestamp: Any = None
    cursor: str = ""

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("created", "updated", "deleted", "unchanged", "resolved")}
        for item in self.synced_items:
            counts[item["status"]] += 1
        return {**counts, "conflicts": len(self.conflicts), "errors": len(self.errors)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "synced_items": self.synced_items,
            "conflicts": self.conflicts,
            "errors": self.errors,
            "timestamp": format_timestamp(self.timestamp),
            "cursor": self.cursor,
        }


def error_item(
    mobile_id: Any,
    message: str,
    field_errors: Mapping[str, Any] | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """An ``error`` answer; ``code`` is a stable reason where the protocol defines one."""
    item = {
        "mobile_id": None if mobile_id is None else str(mobile_id),
        "status": "error",
        "error_message": message,
        "field_errors": dict(field_errors or {}),
    }
    if code is not None:
        item["code"] = code
    return item


def unstorable_item(wire_id: Any, field_errors: Mapping[str, list[str]]) -> dict[str, Any]:
    """The ``error`` answer for an entry holding a value no database can store."""
    name, messages = next(iter(field_errors.items()))
    return error_item(
        wire_id,
        f"The entry cannot be stored: {name}: {messages[0]} Remove or fix it, then push again.",
        field_errors,
        code=UNSTORABLE,
    )


def flatten_errors(detail: Any) -> dict[str, list[str]]:
    """DRF/Django error detail as ``{field: [messages]}``."""
    if isinstance(detail, Mapping):
        return {
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
            for k, v in detail.items()
        }
    messages = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(m) for m in messages]}


def summary(field_errors: Mapping[str, list[str]]) -> str:
    name, messages = next(iter(field_errors.items()))
    return messages[0] if name == "non_field_errors" else f"{name}: {messages[0]}"


class SyncService:
    """Push and pull for one domain, on behalf of one user and device.

    Args:
        domain: the declaration.
        request: the DRF request, given to the scope and database callables.
        user: defaults to ``request.user``.
        device_id: ``X-Device-Id`` or the envelope's ``client_id``.
        scope: tenant field values; defaults to :meth:`get_scope`.
        using: database alias; defaults to :meth:`get_database`.
    """

    def __init__(
        self,
        domain: SyncDomain,
        *,
        request: Any = None,
        user: Any = None,
        device_id: str = "",
        scope: Mapping[str, Any] | None = None,
        using: str | None = None,
    ) -> None:
        self.domain = domain
        self.model: type[SyncableModelMixin] = domain.model_class  # type: ignore[assignment]
        self.request = request
        self.user = user if user is not None else getattr(request, "user", None)
        self.device_id = device_id
        self.scope = dict(scope) if scope is not None else self.get_scope()
        self.using = using or self.get_database()

    # -- hooks ----------------------------------------------------------------------------
    def get_scope(self) -> dict[str, Any]:
        """Tenant field values of this request (``{}`` for an unscoped domain)."""
        if self.domain.scope_callable is None:
            return {}
        return dict(self.domain.scope_callable(self.request))

    def get_database(self) -> str:
        """The database alias the whole push or pull runs on."""
        if self.domain.database_callable is not None:
            return self.domain.database_callable(self.request)
        return router.db_for_write(self.model)

    def get_queryset(self) -> Any:
        """Every record of this tenant, tombstones included. All reads start here."""
        return self.model.sync_queryset(self.using).filter(**self.scope)

    def get_serializer(self, instance: Model | None = None, **kwargs: Any) -> Any:
        context = {"request": self.request, "domain": self.domain, "service": self}
        return self.domain.serializer_class(instance, context=context, **kwargs)

    def validate_entry(self, data: dict[str, Any], instance: Model | None) -> dict[str, Any]:
        """Validated field values of one entry; raise ``ValidationError`` to reject it."""
        serializer = self._serializer("update" if instance is not None else "create")
        # One serializer per batch, as a ListSerializer reuses its child: building one
        # (ModelSerializer.get_fields) costs more than validating an entry.
        serializer.instance, serializer.initial_data = instance, data
        return dict(serializer.run_validation(data))

    def before_save(self, instance: Model, created: bool) -> None:
        """Called for each record about to be written (fields set, not yet saved)."""

    def after_save(self, created: Sequence[Model], updated: Sequence[Model]) -> None:
        """Called once per batch after the bulk writes, inside the transaction."""

    def get_pull_queryset(self, params: Mapping[str, Any]) -> Any:
        """Records a pull may serve, with the domain's filters applied from ``params``."""
        queryset = self.get_queryset()
        for param, lookup in self.domain.filters.items():
            value = params.get(param)
            if value in (None, ""):
                continue
            self._check_choice(param, lookup, value)
            try:
                queryset = queryset.filter(**{lookup: value})
            except (DjangoValidationError, ValueError, TypeError) as exc:
                message = getattr(exc, "messages", [str(exc)])[0]
                raise ValidationError(
                    {param: [f"{value!r} is not a valid {param}: {message}"]},
                    code="invalid_filter",
                ) from exc
        return queryset

    def _check_choice(self, param: str, lookup: str, value: Any) -> None:
        """Refuse a value outside the choices of a filter on a field with ``choices``.

        Such a filter would match nothing: a device that misspells a state would receive
        an empty page and believe there is nothing to do.
        """
        name, _, rest = lookup.partition("__")
        if rest not in ("", "exact"):
            return
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return  # the ORM reports it
        if not isinstance(field, Field):
            return  # a reverse relation
        choices = [key for key, _label in field.flatchoices or []]
        if not choices:
            return
        try:
            typed = field.to_python(value)
        except DjangoValidationError:
            return  # the ORM lookup reports it
        if typed not in choices:
            listed = ", ".join(str(key) for key in choices)
            raise ValidationError(
                {param: [f"{value!r} is not a valid {param}: use one of {listed}."]},
                code="invalid_filter",
            )

    def serialize_record(self, instance: Any) -> dict[str, Any]:
        """The wire form of one record (a tombstone for a deleted one)."""
        item = {
            "mobile_id": str(instance.mobile_id),
            "version": instance.version,
            "deleted": bool(instance.deleted),
            "updated_at": format_timestamp(instance.updated_at),
        }
        if instance.deleted:
            return item
        return {**self._serializer("read").to_representation(instance), **item}

    def _serializer(self, purpose: str) -> Any:
        """The serializer this service reuses for ``purpose`` (create, update or read)."""
        cache: dict[str, Any] = self.__dict__.setdefault("_serializers", {})
        if purpose not in cache:
            cache[purpose] = self.get_serializer(partial=purpose == "update")
        return cache[purpose]

    # -- push -----------------------------------------------------------------------------
    def push(
        self, entries: Sequence[Any], cursor: str = "", idempotency_key: str = ""
    ) -> PushResult:
        """Apply a batch in one transaction and answer per entry."""
        started = time.monotonic()
        outcomes: list[tuple[str, dict[str, Any]] | None] = [None] * len(entries)
        parsed = self._parse_entries(entries, outcomes)
        with transaction.atomic(using=self.using):
            audits = self._apply(parsed, outcomes) if parsed else []
            result = PushResult(timestamp=timezone.now(), cursor=self._echo_cursor(cursor))
            for outcome in outcomes:
                assert outcome is not None
                kind, item = outcome
                getattr(result, kind).append(item)
            SyncConflict.objects.using(self.using).bulk_create(audits)
            batch = SyncBatch.objects.using(self.using).create(
                domain=self.domain.name,
                user_id=getattr(self.user, "pk", None),
                device_id=self.device_id[:255],
                idempotency_key=idempotency_key,
                entries=len(entries),
                duration_ms=int((time.monotonic() - started) * 1000),
                **result.counts(),
            )
        fields = {
            "domain": self.domain.name,
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
        for audit in audits:
            signals.conflict_detected.send(sender=type(self), domain=self.domain, conflict=audit)
        for item in result.errors:
            signals.item_rejected.send(
                sender=type(self), domain=self.domain, item=item, batch=batch
            )
        signals.batch_synced.send(
            sender=type(self), domain=self.domain, batch=batch, result=result
        )
        return result

    def _echo_cursor(self, cursor: str) -> str:
        """The device's pull cursor, validated, or the start of the feed."""
        position = START
        if cursor:
            try:
                position = decode_cursor(cursor, self.domain.name, self.scope)
            except InvalidCursor:
                position = START
        return encode_cursor(self.domain.name, self.scope, position)

    def _parse_entries(self, entries: Sequence[Any], outcomes: list[Any]) -> list[Entry]:
        parsed: list[Entry] = []
        seen: set[uuid.UUID] = set()
        for index, raw in enumerate(entries):
            if not isinstance(raw, dict):
                outcomes[index] = ("errors", error_item(None, "Each entry must be a JSON object."))
                continue
            envelope = _entry_envelope(raw)
            if isinstance(envelope, dict):
                outcomes[index] = ("errors", envelope)
                continue
            mobile_id, version, deleted = envelope
            wire_id = raw["mobile_id"]
            problems = entry_problems(raw)
            if problems:
                outcomes[index] = ("errors", unstorable_item(wire_id, problems))
                continue
            if mobile_id in seen:
                outcomes[index] = (
                    "errors",
                    error_item(
                        wire_id,
                        "This mobile_id appears earlier in the same batch; "
                        "send one entry per record.",
                        {"mobile_id": ["Duplicate in batch."]},
                    ),
                )
                continue
            seen.add(mobile_id)
            data = {
                k: v
                for k, v in raw.items()
                if k not in SYSTEM_FIELDS and k not in self.domain.read_only_fields
            }
            parsed.append(Entry(index, mobile_id, wire_id, version, deleted, data, raw))
        return parsed

    def _apply(self, parsed: list[Entry], outcomes: list[Any]) -> list[SyncConflict]:
        existing = {
            obj.mobile_id: obj
            for obj in in_values(self.get_queryset(), "mobile_id", [e.mobile_id for e in parsed])
            .select_for_update()
            .order_by("pk")
        }
        now = timezone.now()
        batch = _Batch(next_change_seq(self.using), now, format_timestamp(now))
        for entry in parsed:
            outcomes[entry.index] = self._process(entry, existing.get(entry.mobile_id), batch)
        self._write(batch, outcomes)
        self.after_save(batch.created, batch.updated)
        return batch.audits

    def _process(self, entry: Entry, instance: Any, batch: _Batch) -> tuple[str, dict[str, Any]]:
        if instance is None:
            if entry.deleted:
                return "synced_items", _synced(entry, "deleted", 0)
            return self._create(entry, batch)
        if entry.deleted:
            changes: dict[str, Any] = {} if instance.deleted else {"deleted": True}
        else:
            try:
                data = self.validate_entry(entry.data, instance)
            except (ValidationError, DjangoValidationError) as exc:
                return "errors", self._invalid(entry, exc)
            changes = {k: v for k, v in data.items() if _differs(instance, k, v)}
            if instance.deleted:
                changes["deleted"] = False
        if not changes:
            status = "deleted" if entry.deleted else "unchanged"
            return "synced_items", _synced(entry, status, instance.version)
        if entry.version > instance.version:
            return "errors", error_item(
                entry.wire_id,
                f"version {entry.version} is ahead of the server's version "
                f"{instance.version}; send the version you last received.",
                {"version": [f"At most {instance.version}."]},
            )
        if entry.version < instance.version:
            return self._resolve(entry, instance, changes, batch)
        problem = self._check_transition(instance, changes, entry.wire_id)
        if problem:
            return "errors", problem
        try:
            self._stage_update(instance, changes, batch, entry)
        except UnstorableValue as exc:
            return "errors", unstorable_item(entry.wire_id, {"changes": [f"This change {exc}."]})
        return "synced_items", _synced(
            entry, "deleted" if entry.deleted else "updated", instance.version
        )

    def _create(self, entry: Entry, batch: _Batch) -> tuple[str, dict[str, Any]]:
        try:
            data = self.validate_entry(entry.data, None)
        except (ValidationError, DjangoValidationError) as exc:
            return "errors", self._invalid(entry, exc)
        status_field = self.domain.status_field
        if status_field and status_field in data and data[status_field] not in self.domain.states:
            return "errors", error_item(
                entry.wire_id,
                f"{data[status_field]!r} is not a state of {status_field}.",
                {status_field: [f"Use one of {', '.join(sorted(self.domain.states))}."]},
            )
        instance = self.model(**{**data, **self.scope, "mobile_id": entry.mobile_id})
        instance.stamp_write(batch.seq, batch.now, adding=True)
        try:
            self._record_history(instance, data, batch)
        except UnstorableValue as exc:
            return "errors", unstorable_item(entry.wire_id, {"changes": [f"This change {exc}."]})
        self.before_save(instance, created=True)
        batch.created.append(instance)
        batch.entries[entry.mobile_id] = entry
        return "synced_items", _synced(entry, "created", 1)

    def _resolve(
        self, entry: Entry, instance: Any, changes: dict[str, Any], batch: _Batch
    ) -> tuple[str, dict[str, Any]]:
        server_data = self.serialize_record(instance)
        context = ConflictContext(self.domain, instance, entry.version, changes, entry.raw)
        resolution = self.domain.resolver_instance.resolve(context)
        try:
            audit = self._audit(entry, instance, server_data, resolution.name, batch)
        except UnstorableValue as exc:
            return "errors", unstorable_item(entry.wire_id, {"server_data": [f"It {exc}."]})
        batch.audits.append(audit)  # every stale entry is audited, however it ends
        if resolution.conflict:
            return "conflicts", self._conflict(entry, instance, server_data)
        applied = {k: v for k, v in resolution.changes.items() if _differs(instance, k, v)}
        if applied:
            problem = self._check_transition(instance, applied, entry.wire_id)
            if problem:
                return "errors", problem
            try:
                self._stage_update(instance, applied, batch, entry)
            except UnstorableValue as exc:
                return "errors", unstorable_item(
                    entry.wire_id, {"changes": [f"This change {exc}."]}
                )
        result = self.serialize_record(instance)
        try:
            audit.result_data = to_json(result)
        except UnstorableValue:
            audit.result_data = None
        item = _synced(entry, "resolved", instance.version)
        return "synced_items", {**item, "resolution": resolution.name, "server_data": result}

    def _audit(
        self,
        entry: Entry,
        instance: Any,
        server_data: dict[str, Any],
        resolution: str,
        batch: _Batch,
    ) -> SyncConflict:
        return SyncConflict(
            domain=self.domain.name,
            model=self.model._meta.label,
            mobile_id=entry.mobile_id,
            user_id=getattr(self.user, "pk", None),
            device_id=self.device_id[:255],
            client_version=entry.version,
            server_version=instance.version,
            client_data=to_json(entry.raw),
            server_data=to_json(server_data),
            resolution=resolution,
            scope=to_json({k: getattr(v, "pk", v) for k, v in self.scope.items()}),
            created_at=batch.now,
        )

    @staticmethod
    def _conflict(entry: Entry, instance: Any, server_data: dict[str, Any]) -> dict[str, Any]:
        return {
            "mobile_id": entry.wire_id,
            "status": "conflict",
            "server_version": instance.version,
            "client_version": entry.version,
            "error_message": f"The record changed on the server (version {instance.version}) "
            f"after version {entry.version} the edit is based on.",
            "server_data": server_data,
        }

    def _check_transition(
        self, instance: Any, changes: Mapping[str, Any], wire_id: str | None = None
    ) -> dict[str, Any] | None:
        name = self.domain.status_field
        if not name or name not in changes:
            return None
        old, new = getattr(instance, name), changes[name]
        if self.domain.can_transition(old, new):
            return None
        allowed = ", ".join(self.domain.transitions.get(old, ())) or "none"  # type: ignore[union-attr]
        message = f"{name} cannot change from {old} to {new} (allowed from {old}: {allowed})."
        return error_item(wire_id or instance.mobile_id, message, {name: [message]})

    def _stage_update(
        self, instance: Any, changes: dict[str, Any], batch: _Batch, entry: Entry
    ) -> None:
        for name, value in changes.items():
            setattr(instance, name, value)
        if "deleted" in changes:
            instance.deleted_at = batch.now if changes["deleted"] else None
            batch.fields.add("deleted_at")
        instance.stamp_write(batch.seq, batch.now, adding=False, changed=changes)
        self._record_history(instance, changes, batch)
        self.before_save(instance, created=False)
        batch.fields.update(changes)
        batch.fields.update(instance.changed_fields())  # including what before_save() set
        batch.updated.append(instance)
        batch.entries[entry.mobile_id] = entry

    def _record_history(self, instance: Any, changes: Mapping[str, Any], batch: _Batch) -> None:
        self.append_history(instance, changes, batch.at)
        if self.domain.history_field:
            batch.fields.add(self.domain.history_field)

    def append_history(
        self, instance: Any, changes: Mapping[str, Any], at: str, version: int | None = None
    ) -> None:
        """Append an entry for ``changes`` to the domain's history field, if it has one.

        ``at`` is the entry's timestamp (ISO-8601); ``version`` the version the change makes
        (``instance.version`` unless given).
        """
        name = self.domain.history_field
        if not name:
            return
        history = list(getattr(instance, name) or [])
        history.append(
            {
                "at": at,
                "version": instance.version if version is None else version,
                "user": str(getattr(self.user, "pk", "") or ""),
                "device": self.device_id,
                "changes": to_json(
                    {k: getattr(v, "pk", v) for k, v in changes.items() if k != name}
                ),
            }
        )
        setattr(instance, name, history)

    def _invalid(self, entry: Entry, exc: Exception) -> dict[str, Any]:
        detail = getattr(exc, "detail", None) or getattr(exc, "message_dict", None)
        if detail is None:
            detail = getattr(exc, "messages", [str(exc)])
        field_errors = flatten_errors(detail)
        return error_item(entry.wire_id, summary(field_errors), field_errors)

    # -- bulk writes ------------------------------------------------------------------------
    def _write(self, batch: _Batch, outcomes: list[Any]) -> None:
        manager = self.model._base_manager.db_manager(self.using)
        if batch.created:
            # Same lock order everywhere; .int: UUID.__lt__ is Python code, int's is not.
            batch.created.sort(key=lambda obj: obj.mobile_id.int)
            self._bulk(
                batch,
                batch.created,
                outcomes,
                lambda objs: manager.bulk_create(objs),
                creating=True,
            )
        if batch.updated:
            batch.updated.sort(key=lambda obj: obj.pk)
            fields = sorted({*batch.fields, *STAMP_FIELDS})
            self._bulk(
                batch,
                batch.updated,
                outcomes,
                lambda objs: bulk_update(self.model, objs, fields, self.using),
                creating=False,
            )

    def _bulk(
        self, batch: _Batch, objs: list[Any], outcomes: list[Any], write: Any, creating: bool
    ) -> None:
        """Write ``objs`` at once; when that fails, one by one to isolate the bad ones."""
        try:
            with transaction.atomic(using=self.using):
                write(objs)
            return
        except DatabaseError:
            pass
        kept = []
        for obj in objs:
            try:
                with transaction.atomic(using=self.using):
                    write([obj])
                kept.append(obj)
            except DatabaseError:
                entry = batch.entries[obj.mobile_id]
                outcomes[entry.index] = self._write_failed(entry, obj, batch, creating)
        objs[:] = kept

    def _write_failed(
        self, entry: Entry, obj: Any, batch: _Batch, creating: bool
    ) -> tuple[str, dict[str, Any]]:
        """The answer for a record the database refused on its own.

        A create that lost a race with a concurrent create of the same ``mobile_id`` (now
        committed) is answered like any write at a stale base version: ``unchanged`` when
        it carries the same data, else ``conflict``. Anything else is an ``error``.
        """
        current = None
        if creating:
            current = self.get_queryset().filter(mobile_id=entry.mobile_id).first()
        if current is None:
            return "errors", error_item(
                entry.wire_id,
                "The record could not be stored: it breaks a database "
                "constraint. Pull, then retry.",
            )
        sent = [name for name in self.domain.wire_fields if name in entry.data]
        if not any(_differs(current, name, getattr(obj, name)) for name in sent):
            return "synced_items", _synced(entry, "unchanged", current.version)
        server_data = self.serialize_record(current)
        try:
            batch.audits.append(self._audit(entry, current, server_data, "rejected", batch))
        except UnstorableValue as exc:
            return "errors", unstorable_item(entry.wire_id, {"server_data": [f"It {exc}."]})
        return "conflicts", self._conflict(entry, current, server_data)

    # -- pull -------------------------------------------------------------------------------
    def pull(
        self,
        cursor: str | None = None,
        limit: int | None = None,
        since: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One page of changes after ``cursor`` (or from the start)."""
        started = timezone.now()
        position = decode_cursor(cursor, self.domain.name, self.scope) if cursor else START
        limit = min(limit or sync_settings.DEFAULT_PAGE_SIZE, self.domain.page_limit)
        horizon = pull_horizon(self.using)
        queryset = self.get_pull_queryset(params or {}).filter(change_seq__lt=horizon)
        after = after_position(self.model, position.seq, position.pk)
        queryset = queryset.filter(after).order_by("change_seq", "pk")
        if since is not None and not cursor:
            queryset = queryset.filter(updated_at__gte=since)
        try:
            rows = list(queryset[: limit + 1])
        except DataError as exc:  # e.g. a filter value out of the column's range
            raise ValidationError(
                {"filters": ["A filter value is out of range."]}, code="invalid_filter"
            ) from exc
        # After the rows: a purge that committed before they were read is seen here.
        self._check_not_purged(position)
        has_more = len(rows) > limit
        items: list[dict[str, Any]] = []
        size, budget = 0, sync_settings.MAX_PAGE_BYTES
        for row in rows[:limit]:
            item = self.serialize_record(row)
            size += len(json.dumps(item, default=str))
            if items and size > budget:
                has_more = True
                break
            items.append(item)
            position = Position(row.change_seq, row.pk)
        # A purge not yet finished when the horizon was read stamps a clock value at or
        # above it: the next page checks it.
        position = replace(position, purge=horizon)
        return {
            "items": items,
            "has_more": has_more,
            "next_cursor": encode_cursor(self.domain.name, self.scope, position),
            "next_timestamp": format_timestamp(started),
        }

    def _check_not_purged(self, position: Position) -> None:
        """Raise :class:`CursorExpired` if a purge removed tombstones the cursor still needs.

        Those are the purges the cursor's chain of pages may not have seen (recorded at a
        clock value at or above the cursor's ``purge`` mark) whose horizon lies after the
        cursor's position. A cursor at the start needs no tombstone.
        """
        if position.seq < 0:
            return
        expired = TombstonePurge.objects.using(self.using).filter(
            domain=self.domain.name, seq__gte=position.purge, horizon_seq__gt=position.seq
        )
        if expired.exists():
            raise CursorExpired(
                "Tombstones this cursor still needs were purged; resync from scratch "
                "(keep your unpushed changes and push them after)."
            )


@dataclass
class _Batch:
    """Work staged by one push before the bulk writes."""

    seq: int
    now: Any
    at: str  # ``now`` on the wire
    created: list[Any] = field(default_factory=list)
    updated: list[Any] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    audits: list[SyncConflict] = field(default_factory=list)
    entries: dict[uuid.UUID, Entry] = field(default_factory=dict)  # staged records' entries


def _entry_envelope(raw: dict[str, Any]) -> tuple[uuid.UUID, int, bool] | dict[str, Any]:
    """``(mobile_id, version, deleted)`` of an entry, or its error item."""
    raw_id = raw.get("mobile_id")
    try:
        mobile_id = uuid.UUID(raw_id) if isinstance(raw_id, str) else None
    except ValueError:
        mobile_id = None
    if mobile_id is None:
        message = "mobile_id is required." if raw_id is None else "mobile_id must be a UUID."
        return error_item(
            raw_id if isinstance(raw_id, str) else None, message, {"mobile_id": [message]}
        )
    version = raw.get("version", 0)
    if version is None:
        version = 0
    if type(version) is not int or not 0 <= version < 2**31:
        return error_item(
            mobile_id,
            "version must be a whole number from 0.",
            {"version": ["A whole number from 0 is required."]},
        )
    deleted = raw.get("deleted", False)
    if deleted is None:
        deleted = False
    if not isinstance(deleted, bool):
        return error_item(
            mobile_id, "deleted must be true or false.", {"deleted": ["Must be a boolean."]}
        )
    return mobile_id, version, deleted


def _synced(entry: Entry, status: str, version: int) -> dict[str, Any]:
    return {"mobile_id": entry.wire_id, "status": status, "server_version": version}


def _differs(instance: Any, name: str, value: Any) -> bool:
    field = instance._meta.get_field(name)
    if field.is_relation and field.concrete:
        return getattr(instance, field.attname) != getattr(value, "pk", value)
    return getattr(instance, name) != value
