"""OpenAPI description of the multi-domain endpoints (``POST sync/``, ``GET changes/``).

The request and answer name each declared domain, with that domain's record (the same
components as its own endpoints, :func:`.domain.domain_components`): drf-spectacular then
documents every domain's entries and items, references included (``format: uuid``, or the
text-id pattern where the referenced model takes text ids).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ...domains import SyncDomain, get_domains
from ...serializers import UTCDateTimeField
from ..client_versions import minimum_schema_version
from ..envelopes import (
    ConflictItemSerializer,
    ErrorItemSerializer,
    MultiPullQuerySerializer,
    MultiPushRequestSerializer,
    SyncedItemSerializer,
)
from .answers import (
    client_schema_version,
    pull_responses,
    push_parameters,
    push_responses,
    retry_after,
)
from .domain import RecordSchemaMixin, domain_components

Serializer = serializers.Serializer[Any]


class DomainListsSerializer(Serializer):
    """One domain's part of a multi-domain push answer: its three lists."""

    synced_items = SyncedItemSerializer(many=True)
    conflicts = ConflictItemSerializer(many=True)
    errors = ErrorItemSerializer(many=True)  # type: ignore[assignment]


def per_domain(name: str, field: Any, domains: list[SyncDomain], doc: str) -> type[Serializer]:
    """A serializer with one optional property per domain, each ``field(domain)``."""
    fields = {domain.name: field(domain) for domain in domains}
    return type(name, (Serializer,), {**fields, "__doc__": doc, "__module__": __name__})


_built: dict[str, tuple[list[SyncDomain], dict[str, type[Serializer]]]] = {}


def multi_components() -> dict[str, type[Serializer]]:
    """The request and answer serializers of the multi-domain endpoints."""
    domains = list(get_domains().values())
    cached = _built.get("multi")
    if cached is not None and cached[0] == domains:
        return cached[1]

    def entries(domain: SyncDomain) -> Any:
        record = domain_components(domain)["record"]
        part = type(
            f"{record.__name__.removesuffix('RecordSerializer')}EntriesSerializer",
            (Serializer,),
            {"entries": record(many=True), "__module__": __name__},
        )
        return part(required=False)

    def items(domain: SyncDomain) -> Any:
        return domain_components(domain)["record"](many=True, required=False)

    request = type(
        "MultiPushSerializer",
        (MultiPushRequestSerializer,),
        {
            "domains": per_domain(
                "MultiPushDomainsSerializer", entries, domains, "Each domain's entries."
            )(),
            "__doc__": "Several domains' changes, applied in one transaction.",
            "__module__": __name__,
        },
    )
    answer = type(
        "MultiPushResponseSerializer",
        (Serializer,),
        {
            "domains": per_domain(
                "MultiPushResultsSerializer",
                lambda d: DomainListsSerializer(required=False),
                domains,
                "Each pushed domain's lists, as a single-domain push answers them.",
            )(),
            "timestamp": UTCDateTimeField(),
            "cursor": serializers.CharField(),
            "__module__": __name__,
        },
    )
    page = type(
        "MultiPullResponseSerializer",
        (Serializer,),
        {
            "changes": per_domain(
                "MultiPullChangesSerializer", items, domains, "Each listed domain's records."
            )(),
            "has_more": serializers.BooleanField(),
            "next_cursor": serializers.CharField(),
            "__module__": __name__,
        },
    )
    built = {"request": request, "answer": answer, "page": page}
    _built["multi"] = (domains, built)
    return built


class MultiSchemaMixin(RecordSchemaMixin):
    """drf-spectacular ``AutoSchema`` additions for the multi-domain views."""

    @property
    def is_push(self) -> bool:
        return self.method == "POST"

    def get_operation_id(self) -> str:
        return "sync_push" if self.is_push else "sync_pull"

    def get_tags(self) -> list[str]:
        return ["several domains"]

    def get_summary(self) -> str | None:
        if self.is_push:
            return "Push several domains' changes in one transaction"
        return "Pull several domains' changes after one cursor"

    def get_description(self) -> str:  # type: ignore[override, unused-ignore]
        if self.is_push:
            return (
                "Apply every listed domain's entries in one transaction, parents' domains "
                "first; each domain's answer is a single-domain push's lists. The entry cap "
                "counts every domain; an unknown or not-permitted domain is a 400 that "
                "applies nothing. References name parents by `mobile_id`, also records "
                "created earlier in the same request."
            )
        return (
            "One page of the listed domains' changes (`domains`, comma-separated; default: "
            "every domain the user may read), at most `limit` items across domains. Follow "
            "`next_cursor` until `has_more` is false; no change is missed and parents come "
            "no later than their children."
        )

    def get_request_serializer(self) -> Any:
        return multi_components()["request"] if self.is_push else None

    def get_response_serializers(self) -> Any:
        from drf_spectacular.utils import OpenApiResponse

        minimum = minimum_schema_version(get_domains().values())
        if self.is_push:
            ok = OpenApiResponse(multi_components()["answer"], description="Each domain's lists.")
            return push_responses(ok, minimum)
        page = OpenApiResponse(multi_components()["page"], description="One page of changes.")
        return pull_responses(page, minimum)

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        # The highest minimum of any domain; a request is held to its own domains' ones.
        schema_version = client_schema_version(minimum_schema_version(get_domains().values()))
        if self.is_push:
            return [*params, *push_parameters(), schema_version]
        return [*params, MultiPullQuerySerializer, schema_version, retry_after()]
