"""How a pull reads a domain's rows and turns each into its wire form.

A pull page, a feed page and a WatermelonDB pull read rows in ``(change_seq, pk)`` order and
serve each as the domain's ``serialize_record()`` has it. A :class:`RowReader` does both:

- the general way, models built by the queryset and each given to ``serialize_record()``;
- the fast way, when the wire form is the library's own (the service's ``serialize_record()``
  and the serializer built from the domain's ``fields``, neither overridden: the service
  decides, see ``SyncService.row_reader()``): the queryset's ``values()`` of the wire's
  columns, each reference's ``mobile_id`` annotated in the same query, and each value turned
  by the serializer field that would have turned it. No model is built and no serializer
  runs per row; the items are the same, key for key and byte for byte
  (``tests/engine/test_rows.py`` compares both ways on every test domain).

A wire field the fast way cannot read from a column (a declared field with another source,
a many-to-many, a model field whose attribute is not its stored value, like a file), or a
model that may change its values when built (its own ``__init__`` or ``from_db()``, a
``post_init`` receiver) or that derives wire fields from a model (a file reference's, see
``records/derived.py``) leaves the whole domain to the general way. See docs/benchmarks.md
for what each way costs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field, Model, OuterRef, QuerySet, Subquery
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init
from rest_framework import serializers
from rest_framework.relations import PrimaryKeyRelatedField

from ..records.derived import deriving_fields
from ..records.relations import is_synced
from ..records.storable import format_timestamp
from ..records.syncable import SyncableModelMixin

if TYPE_CHECKING:
    from .hooks import SyncHooks

#: Serializer fields whose wire value is the stored value itself when it has this type.
PLAIN: tuple[tuple[type[serializers.Field[Any, Any, Any, Any]], type], ...] = (
    (serializers.ChoiceField, str),
    (serializers.CharField, str),
    (serializers.BooleanField, bool),
    (serializers.IntegerField, int),
)

Convert = Callable[[Any], Any]

#: The ``from_db()`` of every synced model that does not define its own.
MIXIN_FROM_DB = SyncableModelMixin.from_db.__func__  # type: ignore[attr-defined]


class RowReader:
    """Reads one domain's rows for a pull and serialises them.

    Args:
        service: the domain's service (its ``serialize_record()`` serves the general way).
        serializer: the domain's default serializer, to read rows the fast way; ``None``
            for the general way.
        reference: the serializer's field class of a reference (it renders the referenced
            record's ``mobile_id``, annotated as ``sync_ref_<field>``).
    """

    def __init__(
        self,
        service: SyncHooks,
        serializer: serializers.BaseSerializer[Any] | None = None,
        reference: type[serializers.Field[Any, Any, Any, Any]] | None = None,
    ) -> None:
        self.service = service
        self.plan = None
        if serializer is not None and reference is not None:
            self.plan = wire_plan(service.model, serializer, reference)

    @property
    def fast(self) -> bool:
        """Whether rows are read as dictionaries of columns (no model built)."""
        return self.plan is not None

    def select(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """``queryset`` as this reader reads it (ordering and slicing are the caller's)."""
        if self.plan is None:
            return queryset
        return self.plan.select(queryset)

    def serialize(self, row: Any) -> dict[str, Any]:
        """The wire form of ``row`` (a model, or a dictionary of columns the fast way)."""
        if self.plan is None:
            return self.service.serialize_record(row)
        return self.plan.item(row)

    def position(self, row: Any) -> tuple[int, Any]:
        """``(change_seq, pk)`` of ``row``: where the next read starts after it."""
        if self.plan is None:
            return row.change_seq, row.pk
        return row["change_seq"], row["pk"]


class WirePlan:
    """The columns of a domain's wire form and how each value is turned (the fast way)."""

    def __init__(
        self,
        fields: Sequence[tuple[str, str, Convert | None]],
        references: dict[str, type[Model]],
    ) -> None:
        #: ``(wire name, column key, converter)``; no converter: the value as stored.
        self.fields = list(fields)
        #: Per reference: the referenced model, whose ``mobile_id`` is annotated.
        self.references = references

    def select(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        annotated = set(queryset.query.annotations)
        missing = {
            f"sync_ref_{name}": Subquery(
                related._base_manager.filter(pk=OuterRef(name)).values("mobile_id")[:1]
            )
            for name, related in self.references.items()
            if f"sync_ref_{name}" not in annotated
        }
        if missing:
            queryset = queryset.annotate(**missing)
        columns = {"pk", "change_seq", "mobile_id", "version", "deleted", "updated_at"}
        columns.update(key for _name, key, _convert in self.fields)
        return queryset.values(*sorted(columns))

    def item(self, row: dict[str, Any]) -> dict[str, Any]:
        """What ``SyncService.serialize_record()`` gives for the model of ``row``."""
        item = {
            "mobile_id": str(row["mobile_id"]),
            "version": row["version"],
            "deleted": bool(row["deleted"]),
            "updated_at": format_timestamp(row["updated_at"]),
        }
        if row["deleted"]:
            return item
        fields: dict[str, Any] = {}
        for name, key, convert in self.fields:
            value = row[key]
            # As DRF's Serializer.to_representation: None is None, whatever the field.
            fields[name] = value if convert is None or value is None else convert(value)
        return {**fields, **item}


def wire_plan(
    model: type[Model],
    serializer: serializers.BaseSerializer[Any],
    reference: type[serializers.Field[Any, Any, Any, Any]],
) -> WirePlan | None:
    """The fast way to read ``model``'s rows as ``serializer`` renders them, or ``None``
    when one of its readable fields cannot be read from a column."""
    if not isinstance(serializer, serializers.Serializer) or not plain_rows(model):
        return None
    fields: list[tuple[str, str, Convert | None]] = []
    references: dict[str, type[Model]] = {}
    for field in serializer._readable_fields:
        read = field_plan(model, field, reference)
        if read is None:
            return None
        key, convert = read
        if key.startswith("sync_ref_"):
            source = field.source or ""
            related = model._meta.get_field(source).related_model
            references[source] = related  # type: ignore[assignment]
        fields.append((field.field_name or "", key, convert))
    return WirePlan(fields, references)


def plain_rows(model: type[Model]) -> bool:
    """Whether a model of ``model`` holds its row's values as they are (no ``__init__`` or
    ``from_db()`` of its own, no ``post_init`` receiver that could change them) and its wire
    form is its fields' (no field that derives more, see ``records/derived.py``)."""
    return (
        model.__init__ is Model.__init__
        and getattr(model.from_db, "__func__", None) is MIXIN_FROM_DB
        and not post_init.has_listeners(model)
        and not deriving_fields(model)  # they derive wire fields from a model (a file's)
    )


def field_plan(
    model: type[Model],
    field: serializers.Field[Any, Any, Any, Any],
    reference: type[serializers.Field[Any, Any, Any, Any]],
) -> tuple[str, Convert | None] | None:
    """The column ``field`` reads and how its value is turned, or ``None`` if it cannot
    be read from a column."""
    source = field.source or ""
    if not source or "." in source or source == "*":
        return None
    try:
        model_field = model._meta.get_field(source)
    except FieldDoesNotExist:
        return None
    if not isinstance(model_field, Field) or model_field.many_to_many:
        return None
    if model_field.is_relation:
        related = model_field.related_model
        if type(field) is reference and is_synced(related):
            return f"sync_ref_{source}", str  # ReferenceField renders the mobile_id as text
        if isinstance(field, PrimaryKeyRelatedField) and field.pk_field is None:
            return model_field.attname, None  # the stored id, as DRF's pk-only optimisation
        return None
    if model_field.descriptor_class is not DeferredAttribute:
        return None  # the attribute is not the stored value (a file, a custom descriptor)
    return source, converter(field)


def converter(field: serializers.Field[Any, Any, Any, Any]) -> Convert:
    """``field.to_representation``, skipped for a value already in its wire type."""
    represent = field.to_representation
    for kind, plain in PLAIN:
        if isinstance(field, kind) and type(field).to_representation is kind.to_representation:
            if isinstance(field, serializers.ChoiceField) and not all(
                type(key) is str for key in field.choice_strings_to_values.values()
            ):
                return represent  # a text value may stand for a choice of another type
            return lambda value: value if type(value) is plain else represent(value)
    return represent
