"""The protocol's envelopes: the request and answer bodies around the records.

They validate what a device sends around its entries (``entries``, ``client_id``, ``cursor``,
a pull's query) and describe every answer for the OpenAPI schema (docs/protocol.md). The
records themselves are the domain's serializer (:mod:`django_mobile_sync.serializers`).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ..engine.outcomes import SYNCED_STATUSES, ItemStatus
from ..serializers import UTCDateTimeField


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
    """``POST {prefix}sync/``: several domains' entries
    (docs/protocol.md#several-domains-in-one-request)."""

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
    status = serializers.ChoiceField(choices=[str(status) for status in SYNCED_STATUSES])
    server_version = serializers.IntegerField()
    resolution = serializers.CharField(required=False)
    server_data = serializers.DictField(required=False)


class ConflictItemSerializer(serializers.Serializer[Any]):
    mobile_id = serializers.CharField(help_text="As the device sent it.")
    status = serializers.ChoiceField(choices=[str(ItemStatus.CONFLICT)])
    server_version = serializers.IntegerField()
    client_version = serializers.IntegerField()
    error_message = serializers.CharField()
    server_data = serializers.DictField()


class ErrorItemSerializer(serializers.Serializer[Any]):
    mobile_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=[str(ItemStatus.ERROR)])
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
