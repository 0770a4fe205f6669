"""OpenAPI description of the sync endpoints, for drf-spectacular (an optional dependency).

``SyncAPIView.schema`` is a :class:`SyncViewSchema`. When the project's
``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` is drf-spectacular's ``AutoSchema`` (or a subclass),
each per-domain view is described with its domain's record fields, the protocol's envelopes,
headers, pull filters and error answers; the generic ``<domain>/sync/`` fallback routes are
left out. Otherwise the views get the project's default schema class, as any DRF view does.
This module imports drf-spectacular only when a schema is generated.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from rest_framework import serializers
from rest_framework.schemas.inspectors import DefaultSchema, ViewInspector
from rest_framework.settings import api_settings

from .client_versions import HEADER as SCHEMA_VERSION_HEADER
from .domains import SyncDomain, get_domain
from .ids import TEXT_ID_MAX_LENGTH, TEXT_ID_PATTERN, TEXT_ID_RULE, uses_text_ids
from .serializers import (
    ErrorResponseSerializer,
    PullQuerySerializer,
    PullResponseSerializer,
    PushEntrySerializer,
    PushRequestSerializer,
    PushResponseSerializer,
    ReferenceField,
    ResetRequiredSerializer,
    UpgradeRequiredSerializer,
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


class SyncViewSchema(DefaultSchema):
    """``APIView.schema`` of the sync views: a description mixin (:class:`SyncSchemaMixin`
    by default) over drf-spectacular's ``AutoSchema``, when the project uses it."""

    def __init__(self, mixin: type | None = None) -> None:
        super().__init__()
        self.mixin = mixin

    def __get__(self, instance: Any, owner: Any) -> Any:
        result = ViewInspector.__get__(self, instance, owner)
        if result is not self:
            return result  # a schema set on this view instance (drf-spectacular does that)
        mixin = self.mixin or SyncSchemaMixin
        inspector = sync_inspector_class(api_settings.DEFAULT_SCHEMA_CLASS, mixin)()
        inspector.view = instance
        return inspector


@cache
def sync_inspector_class(base: type, mixin: type) -> type:
    """``base`` with ``mixin``'s description mixed in, if ``base`` is drf-spectacular's."""
    try:
        from drf_spectacular.openapi import AutoSchema
    except ImportError:
        return base
    if not issubclass(base, AutoSchema):
        return base
    return type(f"{mixin.__name__}{base.__name__}", (mixin, base), {"__module__": __name__})


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
        lines = [
            f"Apply a batch of `{domain.name}` records created, changed or deleted offline "
            f"(at most {domain.batch_limit} entries), in one transaction. Every entry is "
            "answered once: `created`, `updated`, `deleted`, `unchanged` or `resolved` in "
            "`synced_items`, a stale edit in `conflicts`, an invalid entry in `errors`.",
            f"Stale edits are settled by the `{domain.resolver_instance.name or 'custom'}` "
            "resolver.",
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


def error_response(description: str, serializer: Any = ErrorResponseSerializer) -> Any:
    from drf_spectacular.utils import OpenApiResponse

    return OpenApiResponse(serializer, description=description)


def with_common_responses(responses: dict[int, Any], minimum: int | None = None) -> dict[int, Any]:
    """``responses`` and the answers of every endpoint; a ``426`` below ``minimum``."""
    common = {
        401: error_response("Not authenticated."),
        403: error_response("Not allowed (for example: the user belongs to no tenant)."),
        429: error_response("Throttled; retry after `Retry-After` seconds."),
    }
    if minimum is not None:
        common[426] = error_response(
            f"The device's {SCHEMA_VERSION_HEADER} is below the minimum of the domains "
            f"involved (`minimum_schema_version`; {minimum} at most): update the app. "
            "Nothing was read or applied.",
            UpgradeRequiredSerializer,
        )
    return dict(sorted({**responses, **common}.items()))


def push_responses(ok: Any, minimum: int | None = None) -> dict[int, Any]:
    """The answers of a push endpoint, ``ok`` for the 200; a ``426`` below ``minimum``."""
    return with_common_responses(
        {
            200: ok,
            400: error_response(
                "Malformed JSON, envelope, Idempotency-Key or X-Client-Schema-Version, or "
                "too many entries."
            ),
            409: error_response("A request with this Idempotency-Key is still running."),
            413: error_response("The body (after gunzip) exceeds MAX_BODY_BYTES."),
            415: error_response("Unsupported Content-Encoding (see the Accept-Encoding header)."),
            422: error_response("This Idempotency-Key was used with another body."),
        },
        minimum,
    )


def pull_responses(ok: Any, minimum: int | None = None) -> dict[int, Any]:
    """The answers of a pull endpoint, ``ok`` for the 200; a ``426`` below ``minimum``."""
    return with_common_responses(
        {
            200: ok,
            400: error_response(
                "A malformed or foreign cursor, or a bad limit, filter value or "
                "X-Client-Schema-Version."
            ),
            410: error_response(
                "The cursor is older than the last tombstone purge: resync.",
                ResetRequiredSerializer,
            ),
        },
        minimum,
    )


def client_schema_version(minimum: int | None) -> Any:
    """The ``X-Client-Schema-Version`` request header; ``minimum``: the endpoint's."""
    from drf_spectacular.utils import OpenApiParameter

    refused = (
        f"below the minimum of the domains involved ({minimum} at most) is a 426"
        if minimum is not None
        else "is never refused here"
    )
    return OpenApiParameter(
        SCHEMA_VERSION_HEADER,
        {"type": "integer", "minimum": 0},
        OpenApiParameter.HEADER,
        description="The app's client schema version, a whole number ≥ 0 (else 400). "
        f"Optional: a device that sends none is not refused. A version {refused}.",
    )


def retry_after() -> Any:
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429],
        description="Seconds to wait before retrying.",
    )


def push_parameters() -> list[Any]:
    """The headers of a push endpoint (request and answer)."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return [
        OpenApiParameter(
            "Idempotency-Key",
            # What idempotency.validate_key() accepts: printable ASCII, not blank.
            {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "pattern": IDEMPOTENCY_KEY_PATTERN,
            },
            OpenApiParameter.HEADER,
            description="Retry-safe key (Stripe semantics): a retry with the same key "
            "and body replays the first answer; another body is a 422.",
        ),
        OpenApiParameter(
            "X-Device-Id",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            description="The device; defaults to the envelope's `client_id`.",
        ),
        OpenApiParameter(
            "Content-Encoding",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            enum=["gzip", "identity"],
            description="Send `gzip` to upload a compressed body.",
        ),
        OpenApiParameter(
            "Idempotent-Replayed",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            enum=["true"],
            response=[200],
            description="Present on a replayed answer to a retried Idempotency-Key.",
        ),
        retry_after(),
    ]


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


#: An ``Idempotency-Key`` value: printable ASCII with at least one non-space character.
IDEMPOTENCY_KEY_PATTERN = "^[ -~]*[!-~][ -~]*$"


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
    fields = {
        name: _optional(field)
        for name, field in domain.serializer_class().fields.items()
        if name not in PushEntrySerializer._declared_fields
    }
    if uses_text_ids(domain.model_class):
        fields["mobile_id"] = text_id_field()
    required = [name for name, field in domain.serializer_class().fields.items() if field.required]
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
