"""Offline-first push/pull sync API for Django models.

The public API is importable from here (``from django_mobile_sync import SyncDomain``) as
well as from the module each name is documented in. Names are resolved when first used, so
importing the package (a settings file does) never imports models early.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_PUBLIC = {
    # Declaring and customising domains (docs/domains.md).
    "SyncDomain": "django_mobile_sync.domains",
    "get_domain": "django_mobile_sync.domains",
    "get_domains": "django_mobile_sync.domains",
    "SyncService": "django_mobile_sync.service",
    "ConflictResolver": "django_mobile_sync.resolvers",
    "ConflictContext": "django_mobile_sync.resolvers",
    "Resolution": "django_mobile_sync.resolvers",
    "SyncModelSerializer": "django_mobile_sync.serializers",
    "sync_settings": "django_mobile_sync.conf",
    # A project's synced models (docs/domains.md#the-model).
    "SyncableModelMixin": "django_mobile_sync.models",
    "TextMobileIdField": "django_mobile_sync.models",
    "RewriteHexUUIDs": "django_mobile_sync.models",
    # The engine in your code (docs/engine.md).
    "PushBatch": "django_mobile_sync.engine",
    "ApplyMode": "django_mobile_sync.engine",
    "ItemStatus": "django_mobile_sync.engine",
    "read_page": "django_mobile_sync.engine",
    "ChangeFeed": "django_mobile_sync.engine",
    "Position": "django_mobile_sync.engine",
    "FeedPosition": "django_mobile_sync.engine",
    "START": "django_mobile_sync.engine",
    "FEED_START": "django_mobile_sync.engine",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'django_mobile_sync' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
