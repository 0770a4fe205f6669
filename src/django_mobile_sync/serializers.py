"""The record serializer: a domain's records on the wire, and what a device may write.

:class:`SyncModelSerializer` is the base of every domain's serializer, generated from the
declaration (:func:`build_model_serializer`) or declared (``SyncDomain(serializer=...)``);
the service's ``get_serializer_class()`` hook picks it (:func:`domain_serializer_class`). The
protocol's envelopes around the records are :mod:`django_mobile_sync.api.envelopes`.
"""

from __future__ import annotations

import contextlib
import datetime
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.validators import (
    ProhibitSurrogateCharactersValidator,
    UniqueTogetherValidator,
    UniqueValidator,
)

from .conf import import_from_setting
from .engine.outcomes import UNKNOWN_MESSAGE, UNKNOWN_REFERENCE
from .records.ids import TEXT_ID_RULE, read_mobile_id, uses_text_ids
from .records.related_scopes import scope_related_fields
from .records.relations import is_synced
from .records.storable import format_timestamp

if TYPE_CHECKING:
    from .domains import SyncDomain

__all__ = [
    "ReferenceField",
    "SyncModelSerializer",
    "UTCDateTimeField",
    "build_model_serializer",
    "domain_serializer_class",
    "format_timestamp",
]


class UTCDateTimeField(serializers.DateTimeField):
    """A ``DateTimeField`` in UTC whatever the active time zone: the protocol's timestamps.

    Renders ``2025-09-28T10:15:00Z`` and reads a timestamp without an offset as UTC (with
    ``USE_TZ``; without it, datetimes stay naive, as DRF leaves them).
    """

    def default_timezone(self) -> datetime.tzinfo | None:
        return datetime.UTC if settings.USE_TZ else None

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if "timezone" not in self.__dict__:  # DRF would ask the settings for every value
            self.__dict__["timezone"] = self.default_timezone()  # None: naive, as DRF's
        return super().enforce_timezone(value)


class SurrogateCharactersValidator(ProhibitSurrogateCharactersValidator):
    """DRF's ``ProhibitSurrogateCharactersValidator`` (the same message and code), which
    reads ASCII text in one step rather than character by character: it has none."""

    def __call__(self, value: Any) -> None:
        if not (type(value) is str and value.isascii()):
            super().__call__(value)


class ReferenceField(serializers.Field[Any, Any, Any, Any]):
    """A foreign key to another synced model, on the wire as that record's ``mobile_id``.

    A device never knows server primary keys: it names the parent it created offline by the
    id it gave it: a UUID, or a text id where the parent's model takes them
    (:class:`~django_mobile_sync.records.ids.TextMobileIdField`). The push engine resolves the
    ``mobile_id`` to the record (in the device's scope, or created earlier in the same
    request) before validation, so :meth:`to_internal_value` receives the record; any id it
    still receives is malformed or unknown. Pull annotates each row with the parent's
    ``mobile_id`` (``sync_ref_<field>``), so a page costs no query per record.
    """

    default_error_messages = {
        "invalid": "Must be a valid UUID.",
        "invalid_text_id": f"Must be {TEXT_ID_RULE}.",
        UNKNOWN_REFERENCE: UNKNOWN_MESSAGE,
    }

    def __init__(self, *, related_model: type[models.Model], **kwargs: Any) -> None:
        self.related_model = related_model
        self.text_ids = uses_text_ids(related_model)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, self.related_model):
            return data
        if read_mobile_id(data, self.text_ids) is None:
            self.fail("invalid_text_id" if self.text_ids else "invalid")
        self.fail(UNKNOWN_REFERENCE)

    def get_attribute(self, instance: Any) -> Any:
        name: str = self.source or self.field_name or ""
        annotated = f"sync_ref_{name}"
        if annotated in instance.__dict__:
            return instance.__dict__[annotated]
        if getattr(instance, instance._meta.get_field(name).attname) is None:
            return None
        return getattr(getattr(instance, name), "mobile_id", None)

    def to_representation(self, value: Any) -> Any:
        if value is None:
            return None
        return str(getattr(value, "mobile_id", value))


class SyncModelSerializer(serializers.ModelSerializer[Any]):
    """Base for domain serializers: no per-record uniqueness queries, timestamps in UTC.

    Uniqueness of ``mobile_id`` is the upsert's job (one query per batch), so the unique
    validators ModelSerializer adds (one query per record each) are dropped. Cross-field
    rules in ``validate()`` should read missing values from ``self.instance``: updates are
    partial. Model ``DateTimeField``s become :class:`UTCDateTimeField`. A value outside a
    field's choices is refused with the choices listed, as pull filters do.

    A relational field to a model that is not synced (generated or declared) takes only the
    targets of the request's scope (:mod:`~django_mobile_sync.records.related_scopes`); a target it
    does not find is an ``unknown_reference``, worded as for synced references.
    """

    #: The relational fields to models that are not synced (set by :meth:`get_fields`).
    scoped_relations: frozenset[str] = frozenset()

    serializer_field_mapping = {
        **serializers.ModelSerializer[Any].serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        for field in fields.values():
            field.validators = [
                SurrogateCharactersValidator()
                if type(v) is ProhibitSurrogateCharactersValidator
                else v
                for v in field.validators
                if not isinstance(v, UniqueValidator)
            ]
            if isinstance(field, serializers.ChoiceField):  # MultipleChoiceField included
                field.error_messages["invalid_choice"] = invalid_choice_message(field)
        # Once per serializer, and one serializer serves a whole batch: no query per entry.
        self.scoped_relations = frozenset(
            scope_related_fields(fields, self.context.get("service"))
        )
        return fields

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(
                as_unknown_references(exc.detail, self.scoped_relations)
            ) from exc

    def get_validators(self) -> list[Any]:
        return [v for v in super().get_validators() if not isinstance(v, UniqueTogetherValidator)]

    def build_relational_field(
        self, field_name: str, relation_info: Any
    ) -> tuple[type[Any], dict[str, Any]]:
        """A foreign key to a synced model is a :class:`ReferenceField` (by ``mobile_id``)."""
        related = relation_info.related_model
        if relation_info.reverse or not is_synced(related):
            return super().build_relational_field(field_name, relation_info)
        model_field = relation_info.model_field
        kwargs: dict[str, Any] = {"related_model": related}
        if model_field is not None:
            kwargs["allow_null"] = model_field.null
            kwargs["required"] = not (model_field.null or model_field.has_default())
            if model_field.help_text:
                kwargs["help_text"] = str(model_field.help_text)
            if model_field.verbose_name:
                kwargs["label"] = str(model_field.verbose_name).capitalize()
        return ReferenceField, kwargs

    def current(self, attrs: dict[str, Any], name: str) -> Any:
        """``name`` as it will be after this change: the new value, else the stored one."""
        if name in attrs:
            return attrs[name]
        return getattr(self.instance, name, None)


def field_validator(
    serializer: serializers.BaseSerializer[Any],
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """What ``serializer.run_validation(data)`` gives for a valid ``data``, without DRF's
    serializer-level steps, when the serializer has none of its own: each writable field's
    ``run_validation`` in order, as ``Serializer.to_internal_value`` runs them. ``None``
    when the serializer validates more (``validate()``, ``validate_<field>()``, validators,
    its own ``run_validation()`` or ``to_internal_value()``, a partial or nested source).

    The returned callable raises the field's error at the first invalid field: the caller
    then runs the serializer itself, which answers with every error as DRF words them.
    """
    if not isinstance(serializer, serializers.Serializer) or serializer.partial:
        return None
    kind = type(serializer)
    if (
        kind.run_validation is not serializers.Serializer.run_validation
        or kind.validate is not serializers.Serializer.validate
        or kind.to_internal_value
        not in (serializers.Serializer.to_internal_value, SyncModelSerializer.to_internal_value)
        or serializer.validators
    ):
        return None
    plan = []
    for field in serializer._writable_fields:
        if getattr(serializer, f"validate_{field.field_name}", None) is not None:
            return None
        if len(field.source_attrs) != 1:
            return None
        plan.append((field, field.source_attrs[0]))

    def validate(data: dict[str, Any]) -> dict[str, Any]:
        validated = {}
        for field, key in plan:
            try:  # noqa: SIM105 (a context manager per field costs more than the field)
                validated[key] = field.run_validation(field.get_value(data))
            except serializers.SkipField:
                pass
        return validated

    return validate


def create_validator(
    serializer: serializers.BaseSerializer[Any],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``dict(serializer.run_validation(data))`` for a create: field by field when
    :func:`field_validator` can, and through the serializer itself for an invalid entry
    (DRF's errors) or a serializer that validates more."""
    fields = field_validator(serializer)

    def validate(data: dict[str, Any]) -> dict[str, Any]:
        if fields is not None:
            # An invalid entry falls through: the serializer's own run words DRF's errors.
            with contextlib.suppress(serializers.ValidationError, DjangoValidationError):
                return fields(data)
        return dict(serializer.run_validation(data))

    return validate


def as_unknown_references(detail: Any, names: frozenset[str]) -> Any:
    """A serializer's error ``detail`` where each field of ``names`` that found no target
    (DRF's ``does_not_exist``) is an ``unknown_reference``, worded as for synced references:
    an id of another tenant and an id that exists nowhere answer alike."""
    if not isinstance(detail, dict):
        return detail
    unknown = [ErrorDetail(UNKNOWN_MESSAGE, code=UNKNOWN_REFERENCE)]
    return {
        name: unknown if name in names and not_found(errors) else errors
        for name, errors in detail.items()
    }


def not_found(errors: Any) -> bool:
    """Whether a field's errors say its target does not exist."""
    return isinstance(errors, list) and any(
        getattr(error, "code", None) == "does_not_exist" for error in errors
    )


def invalid_choice_message(field: serializers.ChoiceField) -> str:
    """DRF's ``invalid_choice`` message, plus the choices a device may send."""
    listed = ", ".join(str(key) for key in field.choices) or "none"
    # The message is a format string ({input}): braces of the choices stay literal.
    listed = listed.replace("{", "{{").replace("}", "}}")
    return f'"{{input}}" is not a valid choice: use one of {listed}.'


def build_model_serializer(domain: SyncDomain) -> type[serializers.ModelSerializer[Any]]:
    """The default serializer of ``domain``: its wire fields, read-only where server-owned."""
    meta = type(
        "Meta",
        (),
        {
            "model": domain.model_class,
            "fields": list(domain.wire_fields),
            "read_only_fields": [f for f in domain.wire_fields if f in domain.read_only_fields],
        },
    )
    name = f"{domain.model_class.__name__}SyncSerializer"
    return type(name, (SyncModelSerializer,), {"Meta": meta, "__module__": __name__})


#: Each declaration's serializer class, imported or built once (gone with the declaration).
_serializer_classes: weakref.WeakKeyDictionary[SyncDomain, type[serializers.Serializer[Any]]] = (
    weakref.WeakKeyDictionary()
)


def domain_serializer_class(domain: SyncDomain) -> type[serializers.Serializer[Any]]:
    """The serializer class ``domain`` declares (``serializer``, imported), or the one built
    from its fields: what ``SyncService.get_serializer_class()`` gives by default."""
    found = _serializer_classes.get(domain)
    if found is None:
        if domain.serializer is not None:
            found = import_from_setting(domain.serializer, domain.option("serializer"))
        else:
            found = build_model_serializer(domain)
        _serializer_classes[domain] = found
    return found
