"""Whose files: the tenant of a request (``FILES_SCOPE``) and the key that names it.

A tenant is a scope, the ``{tenant field: value}`` a domain's ``scope`` callable gives
(docs/files.md#tenancy): files live per tenant, so a record of a domain and the uploads of the
same request find the same files when the domain's scope and ``FILES_SCOPE`` agree (by
default ``FILES_SCOPE`` is the scope of the first declared domain that has one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from rest_framework.request import Request

from django_mobile_sync.conf import import_from_setting, sync_settings
from django_mobile_sync.domains import get_domains

__all__ = ["request_scope", "scope_values", "tenant_key"]


def scope_values(scope: Mapping[str, Any]) -> dict[str, Any]:
    """The scope's values as JSON: a model instance by its primary key."""
    values = {}
    for name, value in scope.items():
        value = getattr(value, "pk", value)
        values[name] = value if isinstance(value, int | str | None) else str(value)
    return values


def tenant_key(scope: Mapping[str, Any]) -> str:
    """The 64-hex key of the tenant ``scope`` names (the same for equal scopes)."""
    text = json.dumps(scope_values(scope), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def request_scope(request: Request) -> dict[str, Any]:
    """The tenant of the request's user: ``FILES_SCOPE``, or the first domain's scope."""
    setting = sync_settings.FILES_SCOPE
    if setting is not None:
        scope = import_from_setting(setting, "MOBILE_SYNC['FILES_SCOPE']")
        return dict(scope(request))
    for domain in get_domains().values():
        if domain.scope_callable is not None:
            return dict(domain.scope_callable(request))
    return {}
