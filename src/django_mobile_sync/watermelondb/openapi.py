"""The OpenAPI description of ``{prefix}watermelon/``, for drf-spectacular.

The pull answers ``{"changes": {<table>: {"created": [raw], "updated": [raw], "deleted":
[id]}}, "timestamp": N}`` and the push takes the changes object itself; each table's raw
record is described with the columns ``sync_client_schema --format watermelondb`` generates
(:mod:`.client_schema`), so the schema, the generated app schema and the endpoint agree.
drf-spectacular is imported only when a schema is generated.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from django_mobile_sync.api import SCHEMA_VERSION_HEADER, minimum_schema_version, openapi

from .client_schema import watermelon_schema
from .tables import watermelon_tables

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema as _SchemaBase
else:
    _SchemaBase = object

Serializer = serializers.Serializer[Any]

_COLUMN_FIELDS: dict[str, type[serializers.Field[Any, Any, Any, Any]]] = {
    "string": serializers.CharField,
    "number": serializers.FloatField,
    "boolean": serializers.BooleanField,
}


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.replace("-", "_").split("_"))


def column_field(column: dict[str, Any]) -> serializers.Field[Any, Any, Any, Any]:
    kwargs: dict[str, Any] = {"allow_null": column["isOptional"]}
    if column["type"] == "string":
        kwargs["allow_blank"] = True
    return _COLUMN_FIELDS[column["type"]](**kwargs)


def change_set_serializers() -> dict[str, type[Serializer]]:
    """Each mapped table's change set (``created``, ``updated``, ``deleted``), by table."""
    built: dict[str, type[Serializer]] = {}
    for table in watermelon_schema()["tables"]:
        camel = _camel(table["name"])
        raw = type(
            f"Watermelon{camel}RawSerializer",
            (Serializer,),
            {
                "id": serializers.CharField(max_length=64),
                **{c["name"]: column_field(c) for c in table["columns"]},
                "__doc__": f"A `{table['name']}` record as WatermelonDB stores it (raw).",
                "__module__": __name__,
            },
        )
        built[table["name"]] = type(
            f"Watermelon{camel}ChangesSerializer",
            (Serializer,),
            {
                "created": raw(many=True),
                "updated": raw(many=True),
                "deleted": serializers.ListField(child=serializers.CharField(max_length=64)),
                "__doc__": f"The `{table['name']}` table's changes.",
                "__module__": __name__,
            },
        )
    return built


#: The changes serializer, built once per generated schema (drf-spectacular tells components
#: apart by identity: the pull and the push must share one class).
_built: dict[str, tuple[str, type[Serializer]]] = {}


def changes_serializer() -> type[Serializer]:
    """The changes object: one optional change set per mapped table."""
    key = json.dumps(watermelon_schema(), sort_keys=True)
    cached = _built.get("changes")
    if cached is not None and cached[0] == key:
        return cached[1]
    fields = {name: s(required=False) for name, s in change_set_serializers().items()}
    built = type(
        "WatermelonChangesSerializer",
        (Serializer,),
        {**fields, "__doc__": "Each table's changes.", "__module__": __name__},
    )
    _built["changes"] = (key, built)
    return built


class RejectedSerializer(Serializer):
    """A record the server refused, and why (a push item error's code and messages)."""

    table = serializers.CharField()
    id = serializers.CharField()
    code = serializers.CharField()
    detail = serializers.CharField(allow_null=True)
    errors = serializers.DictField(allow_null=True)  # type: ignore[assignment]


class WatermelonSchemaMixin(_SchemaBase):
    """drf-spectacular ``AutoSchema`` additions for the WatermelonDB endpoint."""

    @property
    def is_push(self) -> bool:
        return self.method == "POST"

    def is_excluded(self) -> bool:
        return not watermelon_tables() or super().is_excluded()

    def get_operation_id(self) -> str:
        return "watermelon_push" if self.is_push else "watermelon_pull"

    def get_tags(self) -> list[str]:
        return ["WatermelonDB"]

    def get_summary(self) -> str | None:
        if self.is_push:
            return "WatermelonDB pushChanges: apply the device's changes, or 409"
        return "WatermelonDB pullChanges: every table's changes since last_pulled_at"

    def get_description(self) -> str:  # type: ignore[override, unused-ignore]
        if self.is_push:
            return (
                "The body is the changes object itself (`JSON.stringify(changes)`, as "
                "`text/plain` or `application/json`). Applied in one transaction, or refused "
                "whole with 409 when a record changed on the server after `last_pulled_at`: "
                "pull, then push again. A record's `id` is its `mobile_id`; a reference is a "
                "`<field>_id` column holding the parent's id."
            )
        return (
            "WatermelonDB's sync backend protocol. `last_pulled_at` is the `timestamp` of the "
            "last pull (`null` on the first sync, which answers everything as `created`); "
            "`migration` (JSON) asks for the records of new tables and columns."
        )

    def get_request_serializer(self) -> Any:
        return changes_serializer() if self.is_push else None

    def get_response_serializers(self) -> Any:
        from drf_spectacular.utils import OpenApiResponse

        minimum = minimum_schema_version(t.domain for t in watermelon_tables().values())
        if self.is_push:
            pushed = type(
                "WatermelonPushResponseSerializer",
                (Serializer,),
                {
                    "experimentalRejectedIds": serializers.DictField(
                        child=serializers.ListField(child=serializers.CharField())
                    ),
                    "rejected": RejectedSerializer(many=True),
                    "__doc__": "Records the server refused (they stay on the device).",
                    "__module__": __name__,
                },
            )
            answers = openapi.push_responses(
                OpenApiResponse(pushed, description="Applied."), minimum
            )
            answers[409] = openapi.error_response(
                "A record changed on the server after `last_pulled_at` (`changed_since_pull`, "
                "with `records`): nothing was applied; pull, then push again. Or a request "
                "with this Idempotency-Key is still running."
            )
            return answers
        page = type(
            "WatermelonPullResponseSerializer",
            (Serializer,),
            {
                "changes": changes_serializer()(),
                "timestamp": serializers.IntegerField(),
                "__module__": __name__,
            },
        )
        answers = openapi.pull_responses(
            OpenApiResponse(page, description="The changes and the timestamp to send next."),
            minimum,
        )
        answers[400] = openapi.error_response(
            "A bad `last_pulled_at` (not a timestamp this server gave), `schema_version` or "
            "`migration`."
        )
        answers.pop(410)  # a timestamp too old for an incremental pull gets everything again
        return answers

    def get_override_parameters(self) -> list[Any]:
        from drf_spectacular.types import OpenApiTypes
        from drf_spectacular.utils import OpenApiParameter

        params = list(super().get_override_parameters())
        minimum = minimum_schema_version(t.domain for t in watermelon_tables().values())
        last_pulled_at = OpenApiParameter(
            "last_pulled_at",
            {"type": "string", "pattern": "^(null|[0-9]{1,16})$"},
            OpenApiParameter.QUERY,
            required=self.is_push,
            description="The `timestamp` of the last pull; `null` (or absent) if never.",
        )
        if self.is_push:
            return [
                *params,
                last_pulled_at,
                openapi.client_schema_version(minimum),
                *openapi.push_parameters(),
            ]
        return [
            *params,
            last_pulled_at,
            OpenApiParameter(
                "schema_version",
                {"type": "integer", "minimum": 0},
                OpenApiParameter.QUERY,
                description=f"The app's schema version (as `{SCHEMA_VERSION_HEADER}`).",
            ),
            OpenApiParameter(
                "migration",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description='`null`, or `{"from": N, "tables": [...], "columns": '
                '[{"table": ..., "columns": [...]}]}` for a migration sync.',
            ),
            openapi.retry_after(),
        ]
