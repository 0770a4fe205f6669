"""The OpenAPI description of one domain's endpoints, and the components that describe its
records (shared with the multi-domain endpoints, :mod:`.multi`)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from rest_framework import serializers

from ...domains import SyncDomain, get_domain
from ...records.derived import derived_serializer_fields
from ...records.ids import TEXT_ID_MAX_LENGTH, TEXT_ID_PATTERN, TEXT_ID_RULE, uses_text_ids
from ...serializers import ReferenceField
from ...service import service_outside_request
from ..envelopes import (
    PullQuerySerializer,
    PullResponseSerializer,
    PushEntrySerializer,
    PushRequestSerializer,
    PushResponseSerializer,
)
from .answers import (
    client_schema_version,
    pull_responses,
    push_parameters,
    push_responses,
    retry_after,
)

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema as _SchemaBase
else:
    _SchemaBase = object

#: Transforms of a filter lookup that change the parameter's type.
_DATE_PARTS = {"date"}
_NUMBER_PARTS = {
    "year",
    "iso_year",
    "month",
    "day",
    "week",
    "week_day",
    "iso_week_day",
    "quarter",
    "hour",
    "minute",
    "second",
}
#: Model field classes and the OpenAPI types of their filter parameters, first match wins.
_FIELD_TYPES = [
    (models.DateTimeField, "DATETIME"),
    (models.DateField, "DATE"),
    (models.BooleanField, "BOOL"),
    (models.IntegerField, "INT"),
    (models.FloatField, "FLOAT"),
    (models.DecimalField, "DECIMAL"),
    (models.UUIDField, "UUID"),
    (models.ForeignKey, "INT"),
]


class RecordSchemaMixin(_SchemaBase):
    """How a domain's record is described, wherever it appears."""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> Any:
        schema = super()._map_basic_serializer(serializer, direction)  # type: ignore[no-untyped-call]
        if getattr(serializer, "sync_record", False):
            # A pulled item may be a tombstone and a pushed entry may be partial: only the
            # protocol's own fields can be required, never a domain field (drf-spectacular
            # requires read-only ones, which a tombstone does not carry).
            required = [name for name in schema.get("required", []) if name in _RECORD_KEYS]
            schema.pop("required", None)
            if required:
                schema["required"] = required
        return schema

    def _map_serializer_field(self, field: Any, direction: str, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(field, ReferenceField):
            return super()._map_serializer_field(field, direction, *args, **kwargs)  # type: ignore[no-untyped-call]
        from drf_spectacular.plumbing import append_meta

        meta = self._get_serializer_field_meta(field, direction)  # type: ignore[no-untyped-call]
        return append_meta(id_schema(field.text_ids), meta)


class SyncSchemaMixin(RecordSchemaMixin):
    """drf-spectacular ``AutoSchema`` additions for the push and changes views."""

    def get_sync_domain(self) -> SyncDomain | None:
        return get_domain(getattr(self.view, "domain_name", "") or "")

    @property
    def is_push(self) -> bool:
        return self.method == "POST"

    def is_excluded(self) -> bool:
        # The generic ``<str:domain>/...`` routes only serve domains declared at run time.
        return self.get_sync_domain() is None or super().is_excluded()

    def get_operation_id(self) -> str:
        domain = self._domain()
        return f"{domain.name.replace('-', '_')}_{'push' if self.is_push else 'pull'}"

    def get_tags(self) -> list[str]:
        return [self._domain().name]

    def get_summary(self) -> str | None:
        name = self._domain().name
        if self.is_push:
            return f"Push {name} changes made offline"
        return f"Pull {name} changes since a cursor"

    def get_description(self) -> str:  # type: ignore[override, unused-ignore]
        domain = self._domain()
        if not self.is_push:
            filters = ", ".join(f"`{p}`" for p in domain.filters) or "none"
            return (
                f"One page of `{domain.name}` records changed after `cursor` (from the start "
                f"without one), at most `limit` (≤ {domain.page_limit}) records. Follow "
                "`next_cursor` until `has_more` is false. Deleted records come as tombstones. "
                f"Domain filters: {filters}. A cursor older than the last tombstone purge "
                "answers 410: resync from scratch, keeping unpushed changes."
            )
        # Through the service class's hook, as a push would: an override is described too.
        resolver = service_outside_request(domain).get_resolver()
        lines = [
            f"Apply a batch of `{domain.name}` records created, changed or deleted offline "
            f"(at most {domain.batch_limit} entries), in one transaction. Every entry is "
            "answered once: `created`, `updated`, `deleted`, `unchanged` or `resolved` in "
            "`synced_items`, a stale edit in `conflicts`, an invalid entry in `errors`.",
            f"Stale edits are settled by the `{resolver.name or 'custom'}` resolver.",
        ]
        if domain.transitions and domain.status_field:
            moves = "; ".join(f"{s} → {', '.join(t)}" for s, t in domain.transitions.items() if t)
            lines.append(f"`{domain.status_field}` transitions: {moves}.")
        owned = [f"`{f}`" for f in domain.wire_fields if f in domain.read_only_fields]
        if owned:
            lines.append(f"Server-owned, never taken from a device: {', '.join(owned)}.")
        return "\n\n".join(lines)

    def get_request_serializer(self) -> Any:
        return push_request_serializer(self._domain()) if self.is_push else None

    def get_response_serializers(self) -> Any:
        from drf_spectacular.utils import OpenApiResponse

        minimum = self._domain().min_client_schema_version
        if self.is_push:
            ok = OpenApiResponse(PushResponseSerializer, description="The outcome of every entry.")
            return push_responses(ok, minimum)
        pulled = pull_response_serializer(self._domain())
        return pull_responses(OpenApiResponse(pulled, description="One page of changes."), minimum)

    def get_override_parameters(self) -> list[Any]:
        from drf_spectacular.utils import OpenApiParameter

        params = list(super().get_override_parameters())
        domain = self._domain()
        schema_version = client_schema_version(domain.min_client_schema_version)
        if self.is_push:
            return [*params, *push_parameters(), schema_version]
        filters = [
            OpenApiParameter(
                param, _filter_type(domain, lookup), description=f"Domain filter (`{lookup}`)."
            )
            for param, lookup in domain.filters.items()
        ]
        return [*params, PullQuerySerializer, *filters, schema_version, retry_after()]

    def _domain(self) -> SyncDomain:
        domain = self.get_sync_domain()
        assert domain is not None  # excluded otherwise
        return domain


def id_schema(text_ids: bool) -> dict[str, Any]:
    """The OpenAPI schema of a ``mobile_id``: a UUID, or a text id of a model that takes them."""
    if not text_ids:
        return {"type": "string", "format": "uuid"}
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": TEXT_ID_MAX_LENGTH,
        "pattern": TEXT_ID_PATTERN,
    }


def text_id_field() -> serializers.Field[Any, Any, Any, Any]:
    """The record's ``mobile_id`` of a domain whose model takes text ids."""
    return serializers.RegexField(
        TEXT_ID_PATTERN,
        min_length=1,
        max_length=TEXT_ID_MAX_LENGTH,
        help_text=f"The record's id: {TEXT_ID_RULE}.",
    )


def _filter_type(domain: SyncDomain, lookup: str) -> Any:
    """The OpenAPI type of a pull filter, from the model field and transforms of ``lookup``."""
    from drf_spectacular.types import OpenApiTypes

    name, *parts = lookup.split("__")
    if _DATE_PARTS & set(parts):
        return OpenApiTypes.DATE
    if _NUMBER_PARTS & set(parts):
        return OpenApiTypes.INT
    if parts and parts[-1] == "isnull":
        return OpenApiTypes.BOOL
    try:
        field = domain.model_class._meta.get_field(name)
    except FieldDoesNotExist:
        return OpenApiTypes.STR
    choices = getattr(field, "flatchoices", None)
    if choices:
        return {"type": "string", "enum": [str(value) for value, _ in choices]}
    for field_class, type_name in _FIELD_TYPES:
        if isinstance(field, field_class):
            return getattr(OpenApiTypes, type_name)
    return OpenApiTypes.STR


# -- per-domain components: built once per declaration, so every operation shares them -----

_components: dict[str, tuple[SyncDomain, dict[str, type[serializers.Serializer[Any]]]]] = {}
#: The fields of every pulled item, tombstones included.
_RECORD_KEYS = {*PushEntrySerializer._declared_fields, "updated_at"}


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.replace("-", "_").split("_"))


def domain_components(domain: SyncDomain) -> dict[str, type[serializers.Serializer[Any]]]:
    """The record, push-request and pull-response serializers that describe ``domain``."""
    cached = _components.get(domain.name)
    if cached is not None and cached[0] is domain:
        return cached[1]
    camel = _camel(domain.name)
    serializer = service_outside_request(domain).get_serializer_class()
    fields = {
        name: _optional(field)
        for name, field in serializer().fields.items()
        if name not in PushEntrySerializer._declared_fields
    }
    if uses_text_ids(domain.model_class):
        fields["mobile_id"] = text_id_field()
    required = [name for name, field in serializer().fields.items() if field.required]
    doc = (
        f"One `{domain.name}` record: its fields plus `mobile_id`, `version`, `deleted` and "
        "`updated_at`. A push entry carries only the fields it changes (a new record needs "
        f"{', '.join(f'`{n}`' for n in required) or 'no field'}); a pull reports a deleted "
        "record as a tombstone (`mobile_id`, `version`, `deleted`, `updated_at`)."
    )
    record = type(
        f"{camel}RecordSerializer",
        (PushEntrySerializer,),
        {
            **fields,
            **derived_serializer_fields(domain.model_class),
            "updated_at": serializers.DateTimeField(read_only=True),
            "sync_record": True,
            "__doc__": doc,
            "__module__": __name__,
        },
    )
    push = type(
        f"{camel}PushSerializer",
        (PushRequestSerializer,),
        {
            "entries": record(many=True),
            "__doc__": f"A batch of `{domain.name}` changes.",
            "__module__": __name__,
        },
    )
    pull = type(
        f"{camel}PullResponseSerializer",
        (PullResponseSerializer,),
        {
            "items": record(many=True),
            "__doc__": f"One page of `{domain.name}` changes.",
            "__module__": __name__,
        },
    )
    built: dict[str, type[serializers.Serializer[Any]]] = {
        "record": record,
        "push": push,
        "pull": pull,
    }
    _components[domain.name] = (domain, built)
    return built


def push_request_serializer(domain: SyncDomain) -> type[serializers.Serializer[Any]]:
    return domain_components(domain)["push"]


def pull_response_serializer(domain: SyncDomain) -> type[serializers.Serializer[Any]]:
    return domain_components(domain)["pull"]


def _optional(
    field: serializers.Field[Any, Any, Any, Any],
) -> serializers.Field[Any, Any, Any, Any]:
    """A fresh copy of ``field`` that an entry may leave out (updates are partial)."""
    if field.read_only:
        return copy.deepcopy(field)
    # Fields are rebuilt from their init arguments, as DRF's own ``Field.__deepcopy__`` does.
    args, kwargs = getattr(field, "_args", ()), dict(getattr(field, "_kwargs", {}))
    kwargs["required"] = False
    return type(field)(*args, **kwargs)
