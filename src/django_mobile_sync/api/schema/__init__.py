"""The OpenAPI description of the sync endpoints, for drf-spectacular (an optional dependency).

``SyncAPIView.schema`` is a :class:`SyncViewSchema`. When the project's
``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` is drf-spectacular's ``AutoSchema`` (or a subclass),
each endpoint is described with its domains' record fields, the protocol's envelopes, headers,
pull filters and error answers (:mod:`.domain` for one domain's endpoints, :mod:`.multi` for
the multi-domain ones, :mod:`.answers` for what every endpoint answers); the generic
``<domain>/sync/`` fallback routes are left out. Otherwise the views get the project's
default schema class, as any DRF view does. drf-spectacular is imported only when a schema is
generated.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework.schemas.inspectors import DefaultSchema, ViewInspector
from rest_framework.settings import api_settings

from .answers import (
    IDEMPOTENCY_KEY_PATTERN,
    client_schema_version,
    error_response,
    pull_responses,
    push_parameters,
    push_responses,
    retry_after,
)
from .domain import SyncSchemaMixin
from .multi import MultiSchemaMixin

__all__ = [
    "IDEMPOTENCY_KEY_PATTERN",
    "MultiSchemaMixin",
    "SyncSchemaMixin",
    "SyncViewSchema",
    "client_schema_version",
    "error_response",
    "pull_responses",
    "push_parameters",
    "push_responses",
    "retry_after",
    "sync_inspector_class",
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
