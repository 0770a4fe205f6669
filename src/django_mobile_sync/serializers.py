"""Serializers: the generated per-domain record serializer and the protocol envelopes."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

from .ids import TEXT_ID_RULE, read_mobile_id, uses_text_ids
from .related_scopes import scope_related_fields
from .relations import is_synced
from .storable import utc_timestamp

if TYPE_CHECKING:
    from .domains import SyncDomain

ITEM_STATUSES = ("created", "updated", "deleted", "unchanged", "resolved")


class UTCDateTimeField(serializers.DateTimeField):
    """A ``DateTimeField`` in UTC whatever the active time zone: the protocol's timestamps.

    Renders ``2025-09-28T10:15:00Z`` and reads a timestamp without an offset as UTC (with
    ``USE_TZ``; without it, datetimes stay naive, as DRF leaves them).
    """

    def default_timezone(self) -> datetime.tzinfo | None:
        return datetime.UTC if settings.USE_TZ else None


def format_timestamp(value: datetime.datetime) -> str:
    """``value`` as the protocol writes timestamps: ISO-8601 in UTC (``...Z``)."""
    return utc_timestamp(value)


#: The ``code`` of the per-item error for a reference to no record of the device's scope.
UNKNOWN_REFERENCE = "unknown_reference"
#: Its message, the same whatever the reason (unknown, deleted, another tenant's).
UNKNOWN_MESSAGE = "No record with this id exists in your scope."


class ReferenceField(serializers.Field[Any, Any, Any, Any]):
    """A foreign key to another synced model, on the wire as that record's ``mobile_id``.

    A device never knows server primary keys: it names the parent it created offline by the
    id it gave it: a UUID, or a text id where the parent's model takes them
    (:class:`~django_mobile_sync.ids.TextMobileIdField`). The push engine resolves the
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
    targets of the request's scope (:mod:`~django_mobile_sync.related_scopes`); a target it
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
            field.validators = [v for v in field.validators if not isinstance(v, UniqueValidator)]
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


# -- protocol envelopes (also the OpenAPI description) ---------------------------------------


class PushEntrySerializer(serializers.Serializer[Any]):
    """One push entry: the record's fields plus these."""

    mobile_id = serializers.UUIDField()
    version = serializers.IntegerField(min_value=0, required=False, default=0)
    deleted = serializers.BooleanField(required=False, default=False)


class AnyJSONField(serializers.Field[Any, Any, Any, Any]):
    """Any parsed JSON value, as it is: each push entry is checked on its own by the push."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class PushRequestSerializer(serializers.Serializer[Any]):
    entries = serializers.ListField(child=AnyJSONField(allow_null=True), allow_empty=True)
    client_id = serializers.CharField(max_length=255, required=False, allow_blank=True)

    last_sync_timestamp = UTCDateTimeField(required=False, allow_null=True)
    cursor = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="The device's last pull cursor, echoed back.",
    )


class DomainEntriesSerializer(serializers.Serializer[Any]):
    """One domain's part of a multi-domain push."""

    entries = serializers.ListField(child=AnyJSONField(allow_null=True), allow_empty=True)


class MultiPushRequestSerializer(serializers.Serializer[Any]):
    """``POST {prefix}sync/``: several domains' entries (SPEC §8)."""

    domains = serializers.DictField(child=DomainEntriesSerializer(), allow_empty=True)
    client_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    last_sync_timestamp = UTCDateTimeField(required=False, allow_null=True)
    cursor = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="The device's multi-domain pull cursor, echoed back.",
    )


class MultiPullQuerySerializer(serializers.Serializer[Any]):
    """``GET {prefix}changes/``: a cursor, a limit across domains, the domains."""

    cursor = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    domains = serializers.CharField(
        required=False,
        help_text="Comma-separated domain names (default: every domain the user may read).",
    )

    def validate_domains(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        return list(dict.fromkeys(names))


class SyncedItemSerializer(serializers.Serializer[Any]):
    mobile_id = serializers.CharField(help_text="As the device sent it.")
    status = serializers.ChoiceField(choices=ITEM_STATUSES)
    server_version = serializers.IntegerField()
    resolution = serializers.CharField(required=False)
    server_data = serializers.DictField(required=False)


class ConflictItemSerializer(serializers.Serializer[Any]):
    mobile_id = serializers.CharField(help_text="As the device sent it.")
    status = serializers.ChoiceField(choices=["conflict"])
    server_version = serializers.IntegerField()
    client_version = serializers.IntegerField()
    error_message = serializers.CharField()
    server_data = serializers.DictField()


class ErrorItemSerializer(serializers.Serializer[Any]):
    mobile_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["error"])
    error_message = serializers.CharField()
    field_errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField())
    )


class PushResponseSerializer(serializers.Serializer[Any]):
    synced_items = SyncedItemSerializer(many=True)
    conflicts = ConflictItemSerializer(many=True)
    errors = ErrorItemSerializer(many=True)  # type: ignore[assignment]
    timestamp = UTCDateTimeField()
    cursor = serializers.CharField()


class PullQuerySerializer(serializers.Serializer[Any]):
    cursor = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    since = UTCDateTimeField(required=False)


class PullResponseSerializer(serializers.Serializer[Any]):
    items = serializers.ListField(child=serializers.DictField())
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField()
    next_timestamp = UTCDateTimeField()


class ErrorResponseSerializer(serializers.Serializer[Any]):
    detail = serializers.JSONField()
    code = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Per-field messages (400 only).")  # type: ignore[assignment]


class ResetRequiredSerializer(ErrorResponseSerializer):
    reset_required = serializers.BooleanField()


class UpgradeRequiredSerializer(ErrorResponseSerializer):
    minimum_schema_version = serializers.IntegerField(
        help_text="The oldest client schema version the server accepts here."
    )
