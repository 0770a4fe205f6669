"""``SyncableModelMixin``: the fields and the stamping writes every synced model has.

Every ORM write of a synced model (``save()``, ``delete()``, and its queryset's
``update()``, ``delete()``, ``bulk_create()``, ``bulk_update()``) moves the record's
``version`` and ``change_seq`` in the writing transaction, so changes made outside the sync
API reach devices too. Deletes are soft (tombstones) and apply the ``on_delete`` of synced
children (:mod:`.relations`); tenant fields never change.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import NotSupportedError, models, router, transaction
from django.db.models import F, Func
from django.utils import timezone

from ..domains import get_domains
from ..exceptions import TenantFieldChanged
from .clock import next_change_seq
from .moves import log_moves, tenant_columns
from .relations import apply_on_delete, protected_counts, protected_error, synced_children
from .view_keys import key_columns

#: Columns every tracked write sets besides the ones it changes.
STAMP_FIELDS = ("version", "updated_at", "change_seq", "field_versions")


class MarkFieldsChanged(Func):
    """SQL for ``field_versions[name] = version + 1`` for each name, inside an UPDATE."""

    output_field = models.JSONField()

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(F("field_versions"))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        pairs = ", ".join("%s::text, version + 1" for _ in self.names)
        return (
            f"(COALESCE(\"field_versions\", '{{}}'::jsonb) || jsonb_build_object({pairs}))",
            list(self.names),
        )

    def as_sql(  # type: ignore[override]  # SQLite
        self, compiler: Any, connection: Any, **extra: Any
    ) -> Any:
        pairs = ", ".join("%s, version + 1" for _ in self.names)
        return (
            f"json_set(COALESCE(field_versions, '{{}}'), {pairs})",
            [f'$."{name}"' for name in self.names],
        )


class SyncQuerySet(models.QuerySet[Any]):
    """A queryset whose writes move the change cursor and the version of every row.

    ``update()``, ``delete()`` (a soft delete), ``bulk_create()`` and ``bulk_update()`` all
    stamp the rows, so changes made by admin actions, business logic or bulk jobs reach
    devices like changes pushed through the sync API. ``bulk_update()`` stamps in SQL:
    refresh the objects to read their new version.
    """

    def alive(self) -> SyncQuerySet:
        return self.filter(deleted=False)

    def tombstones(self) -> SyncQuerySet:
        return self.filter(deleted=True)

    def update(self, **kwargs: Any) -> int:
        self._refuse_tenant_change(kwargs)
        changed = [name for name in kwargs if name not in STAMP_FIELDS]
        # As Django's update() does, before self.db is read: the clock is taken on the
        # alias the rows are written to, not the one a router gives reads.
        self._for_write = True
        with transaction.atomic(using=self.db, savepoint=False):
            kwargs.setdefault("updated_at", timezone.now())
            kwargs["version"] = F("version") + 1
            kwargs["change_seq"] = next_change_seq(self.db)
            if changed:
                kwargs["field_versions"] = MarkFieldsChanged(changed)
            moving = self._key_columns_in(changed)
            if not moving:
                return super().update(**kwargs)
            before = self._key_values(moving, lock=True)
            count = super().update(**kwargs)
            after = self.model.sync_queryset(self.db).filter(pk__in=list(before))
            rows = [
                (pk, tenant, before[pk][1], new)
                for pk, (_tenant, new) in after._key_values(moving).items()
                for tenant in [before[pk][0]]
            ]
            log_moves(self.model, rows, kwargs["change_seq"], self.db)
            return count

    update.alters_data = True  # type: ignore[attr-defined]

    def delete(self) -> tuple[int, dict[str, int]]:
        """Turn the rows into tombstones (pull reports them); see :meth:`hard_delete`.

        The ``on_delete`` of synced children's foreign keys applies, stamped: ``PROTECT``
        refuses (``ProtectedError``), ``CASCADE`` makes tombstones of them too, ``SET_NULL``
        and the like change them.

        The rows are locked ``FOR UPDATE`` first, in the transaction, and exactly the rows
        locked are deleted: a push that names one of them as a parent has either committed
        its children before the lock was granted (they are counted or cascaded) or waits and
        then finds the parent gone (docs/relations.md).
        """
        self._for_write = True
        model, using = self.model, self.db
        alive = self.filter(deleted=False)
        if not synced_children(model):  # nothing can reference the rows: no lock needed
            count = alive.update(deleted=True, deleted_at=timezone.now())
            return count, {model._meta.label: count}
        with transaction.atomic(using=using, savepoint=False):
            pks = self._lock_alive()
            protected = protected_counts(model, pks, using)
            if not protected:
                stamped = model.sync_queryset(using).filter(pk__in=pks)
                count = stamped.update(deleted=True, deleted_at=timezone.now())
                apply_on_delete(model, pks, using)
        if protected:  # raised outside the block: a caller's transaction stays usable
            raise protected_error(model, protected)
        return count, {model._meta.label: count}

    delete.alters_data = True  # type: ignore[attr-defined]

    def _lock_alive(self) -> list[Any]:
        """Primary keys of the live rows, locked ``FOR UPDATE`` in primary key order.

        Through this queryset's own filters (the tenant's, if it has them); one that cannot
        lock (``distinct()``, aggregates) selects the rows to lock in a subquery.
        """
        alive = self.filter(deleted=False)
        query = alive.query
        if query.distinct or query.group_by is not None:
            sync_queryset = self.model.sync_queryset(self.db)
            alive = sync_queryset.filter(pk__in=alive.values("pk"), deleted=False)
        locking = alive.select_for_update(of=("self",)).order_by("pk")
        return list(locking.values_list("pk", flat=True))

    def hard_delete(self) -> tuple[int, dict[str, int]]:
        """Really delete the rows. Devices are not told: use for purging tombstones."""
        return super().delete()

    hard_delete.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        if kwargs.get("update_conflicts"):
            raise NotSupportedError(
                "bulk_create(update_conflicts=True) would overwrite existing rows without "
                "moving their version; use bulk_update() or update_or_create() instead."
            )
        objs = list(objs)
        self._for_write = True  # the write alias, as in update()
        with transaction.atomic(using=self.db, savepoint=False):
            seq, now = next_change_seq(self.db), timezone.now()
            for obj in objs:
                obj.stamp_write(seq, now, adding=True)
            return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(
        self, objs: Iterable[Any], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        """Django's, which writes with :meth:`update` (so it stamps), refusing tenant fields."""
        fields = list(fields)
        self._refuse_tenant_change(fields)
        return super().bulk_update(objs, fields, batch_size=batch_size)

    bulk_update.alters_data = True  # type: ignore[attr-defined]

    def _key_columns_in(self, names: Iterable[str]) -> list[str]:
        """The view key columns (docs/views.md) among the fields ``names``."""
        columns = key_columns(self.model)
        if not columns:
            return []
        attnames = {self.model._meta.get_field(name).attname for name in names}
        return sorted(columns & attnames)

    def _key_values(
        self, columns: Sequence[str], lock: bool = False
    ) -> dict[Any, tuple[dict[str, Any], dict[str, Any]]]:
        """``{pk: (tenant values, key columns)}`` of the rows (locked ``FOR UPDATE``)."""
        tenant = tenant_columns(self.model, tenant_field_names(self.model))
        rows = self.select_for_update() if lock else self
        names = ["pk", *tenant.values(), *columns]
        return {
            row["pk"]: (
                {name: row[attname] for name, attname in tenant.items()},
                {column: row[column] for column in columns},
            )
            for row in rows.order_by("pk").values(*names)
        }

    def _refuse_tenant_change(self, names: Iterable[str]) -> None:
        tenant = tenant_field_names(self.model)
        if not tenant:
            return
        moved = {self.model._meta.get_field(name).name for name in names} & tenant
        if moved:
            raise TenantFieldChanged(self.model, sorted(moved))


class SyncManager(models.Manager.from_queryset(SyncQuerySet)):  # type: ignore[misc]
    """Default manager of synced models: tombstones are hidden."""

    def get_queryset(self) -> SyncQuerySet:
        queryset: SyncQuerySet = super().get_queryset().filter(deleted=False)
        return queryset


AllObjectsManager = models.Manager.from_queryset(SyncQuerySet)


class SyncableModelMixin(models.Model):
    """Makes a model syncable: client id, server version, change cursor and tombstone.

    Add a ``UniqueConstraint`` on ``(tenant fields..., "mobile_id")`` to the model's Meta
    (a system check asks for it). ``objects`` hides tombstones, ``all_objects`` does not.

    ``mobile_id`` is a UUID; a model whose devices name records with text ids (WatermelonDB)
    declares ``mobile_id = TextMobileIdField()`` instead (see :mod:`.ids`).

    Pulls read a tenant's rows in ``(change_seq, pk)`` order from a cursor: give the model
    an index on the tenant fields, then ``change_seq``, then the primary key, such as
    ``models.Index(fields=["org", "change_seq", "id"], name="fieldwork_task_pull")`` (names
    of at most 30 characters), so that a page costs the same at any table size (see
    docs/benchmarks.md).
    """

    mobile_id = models.UUIDField(
        default=uuid.uuid4, db_index=True, help_text="Client-generated id of the record."
    )
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Server version, +1 per accepted change."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    change_seq = models.BigIntegerField(
        default=0,
        editable=False,
        db_index=True,
        help_text="Change cursor position (see docs/cursor.md).",
    )
    deleted = models.BooleanField(default=False, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    field_versions = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Version at which each field last changed.",
    )

    objects = SyncManager()
    all_objects = AllObjectsManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        adding = self._state.adding
        changed = [] if adding else self.changed_fields()
        moved = [] if adding else self.moved_tenant_fields()
        if moved:
            raise TenantFieldChanged(type(self), moved)
        with transaction.atomic(using=using, savepoint=False):
            current = None if adding else self._lock_current_version(using)
            seq = next_change_seq(using)
            self.stamp_write(seq, timezone.now(), adding=adding, changed=changed)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], *STAMP_FIELDS}
            super().save(*args, **kwargs)
            if current is not None and (columns := key_columns(type(self))):
                tenant = {n: getattr(self, a) for n, a in self.tenant_filter_names().items()}
                new = {column: getattr(self, column) for column in columns}
                log_moves(type(self), [(self.pk, tenant, current, new)], seq, using)
        self._loaded_values = {
            f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields
        }

    def clean(self) -> None:
        super().clean()
        moved = [] if self._state.adding else self.moved_tenant_fields()
        if moved:
            raise ValidationError({name: TenantFieldChanged.advice for name in moved})

    def moved_tenant_fields(self) -> list[str]:
        """Tenant fields (of the domains declaring this model) changed since loading."""
        loaded = getattr(self, "_loaded_values", None) or {}
        moved = []
        for name in sorted(tenant_field_names(type(self))):
            attname = self._meta.get_field(name).attname  # type: ignore[union-attr]
            if attname in loaded and getattr(self, attname) != loaded[attname]:
                moved.append(name)
        return moved

    def tenant_filter(self) -> dict[str, Any]:
        """The row's tenant as it was loaded, for locking queries (docs/domains.md#tenancy)."""
        loaded = getattr(self, "_loaded_values", None) or {}
        found = {}
        for name in tenant_field_names(type(self)):
            attname = self._meta.get_field(name).attname  # type: ignore[union-attr]
            found[attname] = loaded.get(attname, getattr(self, attname))
        return found

    def tenant_filter_names(self) -> dict[str, str]:
        """``{tenant field name: attname}``."""
        return tenant_columns(type(self), tenant_field_names(type(self)))

    def _lock_current_version(self, using: str) -> dict[str, Any] | None:
        """Stamp from the row as it is now, not as it was loaded: others may have written.

        ``FOR UPDATE`` (not ``FOR NO KEY UPDATE``): a delete's lock must conflict with the
        ``FOR KEY SHARE`` a push holds on the parents it names (docs/relations.md).
        Returns the row's ``version``, ``field_versions`` and ``deleted``, and its view key
        columns (docs/views.md), if it exists.
        """
        current: Any = (
            type(self)
            ._base_manager.using(using)
            .select_for_update()
            .filter(pk=self.pk, **self.tenant_filter())
            .values("version", "field_versions", "deleted", *sorted(key_columns(type(self))))
            .first()
        )
        if current is None:
            return None
        self.version, self.field_versions = current["version"], current["field_versions"]
        return dict(current)

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Turn the record into a tombstone that pull reports to devices.

        The ``on_delete`` of synced children's foreign keys applies, as in
        :meth:`SyncQuerySet.delete`: the row is locked before its children are counted or
        read. A record another transaction deleted meanwhile is left as it is (``0``).
        """
        if self.deleted:
            return 0, {}
        model = type(self)
        using = using or router.db_for_write(model, instance=self)
        protected: Counter[Any] = Counter()
        with transaction.atomic(using=using, savepoint=False):
            current = self._lock_current_version(using)
            if current is not None and current["deleted"]:  # another delete came first
                self.deleted = True
                return 0, {}
            if synced_children(model):
                protected = protected_counts(model, [self.pk], using)
            if not protected:
                self.deleted, self.deleted_at = True, timezone.now()
                self.save(using=using)
                apply_on_delete(model, [self.pk], using)
        if protected:  # raised outside the block: a caller's transaction stays usable
            raise protected_error(model, protected)
        return 1, {self._meta.label: 1}

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any, **kwargs: Any) -> Any:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_values = dict(zip(field_names, values, strict=False))
        return instance

    @classmethod
    def sync_queryset(cls, using: str) -> SyncQuerySet:
        """Every row, tombstones included, on ``using``: what the sync service reads."""
        return SyncQuerySet(model=cls, using=using)

    def changed_fields(self) -> list[str]:
        """Concrete fields whose value differs from the one loaded from the database."""
        loaded = getattr(self, "_loaded_values", None)
        names = [f.attname for f in self._meta.concrete_fields if not f.primary_key]
        if loaded is None:
            return [n for n in names if n not in STAMP_FIELDS]
        return [
            n
            for n in names
            if n not in STAMP_FIELDS and n in loaded and getattr(self, n) != loaded[n]
        ]

    def stamp_write(
        self, seq: int, now: Any, *, adding: bool, changed: Iterable[str] = ()
    ) -> None:
        """Set the version, timestamps and change cursor for a write at ``seq``."""
        if adding:
            self.version = 1
            self.created_at = now
            self.field_versions = {}
        else:
            self.version = (self.version or 0) + 1
            self.field_versions = {
                **(self.field_versions or {}),
                **{_field_name(self, n): self.version for n in changed},
            }
        self.updated_at = now
        self.change_seq = seq

    def hard_delete(self, using: Any = None) -> Any:
        return super().delete(using=using)


def new_record_stamps(seq: int, now: Any) -> dict[str, Any]:
    """What ``stamp_write(seq, now, adding=True)`` sets, as a new model's keyword arguments:
    given up front, Django computes no default for them (``timezone.now()`` twice)."""
    return {
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "change_seq": seq,
        "deleted": False,
        "deleted_at": None,
        "field_versions": {},
    }


def tenant_field_names(model: type[models.Model]) -> frozenset[str]:
    """The tenant fields every domain declaring ``model`` names."""
    try:
        domains = get_domains().values()
    except (ImproperlyConfigured, TypeError):  # reported by the system checks
        return frozenset()
    names: set[str] = set()
    for domain in domains:
        if domain.model.lower() == model._meta.label_lower:
            names.update(domain.tenant_fields)
    return frozenset(names)


def differs(instance: models.Model, name: str, value: Any) -> bool:
    """Whether setting ``name`` to ``value`` would change ``instance``."""
    model_field = instance._meta.get_field(name)
    if model_field.is_relation and model_field.concrete:
        attname: str = model_field.attname
        return bool(getattr(instance, attname) != getattr(value, "pk", value))
    return bool(getattr(instance, name) != value)


def _field_name(instance: models.Model, attname: str) -> str:
    """``client_id`` -> ``client``: field_versions is keyed by field name."""
    for f in instance._meta.concrete_fields:
        if f.attname == attname:
            return f.name
    return attname
