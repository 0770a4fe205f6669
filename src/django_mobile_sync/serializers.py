"""Serializers: the generated per-domain record serializer and the protocol envelopes."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from rest_framework import serializers
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

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


class SyncModelSerializer(serializers.ModelSerializer[Any]):
    """Base for domain serializers: no per-record uniqueness queries, timestamps in UTC.

    Uniqueness of ``mobile_id`` is the upsert's job (one query per batch), so the unique
    validators ModelSerializer adds (one query per record each) are dropped. Cross-field
    rules in ``validate()`` should read missing values from ``self.instance``: updates are
    partial. Model ``DateTimeField``s become :class:`UTCDateTimeField`.
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer[Any].serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        for field in fields.values():
            field.validators = [v for v in field.validators if not isinstance(v, UniqueValidator)]
        return fields

    def get_validators(self) -> list[Any]:
        return [v for v in super().get_validators() if not isinstance(v, UniqueTogetherValidator)]

    def current(self, attrs: dict[str, Any], name: str) -> Any:
        """``name`` as it will be after this change: the new value, else the stored one."""
        if name in attrs:
            return attrs[name]
        return getattr(self.instance, name, None)


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


class SyncedItemSerializer(serializers.Serializer[Any]):
    mobile_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ITEM_STATUSES)
    server_version = serializers.IntegerField()
    resolution = serializers.CharField(required=False)
    server_data = serializers.DictField(required=False)


class ConflictItemSerializer(serializers.Serializer[Any]):
    mobile_id = serializers.UUIDField()
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
