"""``include("django_mobile_sync.urls")``: push and changes endpoints of every domain, the
multi-domain ones (``sync/``, ``changes/``), and those of every installed optional app of the
library that names a URLconf in its ``AppConfig.sync_urls`` (a client protocol such as
``django_mobile_sync.watermelondb``), under the same prefix and namespace."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.urls import path, re_path

from .domains import get_domains
from .views import (
    ChangesView,
    MultiChangesView,
    MultiPushView,
    PushView,
    missing_slash,
    sync_views,
)

__all__ = [
    "app_name",
    "urlpatterns",
]

app_name = "mobile_sync"


def declared_names() -> list[str]:
    """The names of the declared domains; none while ``DOMAINS`` is misdeclared.

    Django imports the URLconf for its own system checks, before the library's: raising
    here would end ``manage.py check`` with a traceback instead of the library's check
    naming the problem (``E010``, ``E014``).
    """
    try:
        return list(get_domains())
    except (ImproperlyConfigured, TypeError):
        return []


def app_patterns() -> list[Any]:
    """The URL patterns of every installed app config with a ``sync_urls`` attribute (the
    import path of a URLconf module), in ``INSTALLED_APPS`` order."""
    patterns: list[Any] = []
    for config in apps.get_app_configs():
        urlconf = getattr(config, "sync_urls", None)
        if urlconf:
            patterns += import_module(urlconf).urlpatterns
    return patterns


def build_urlpatterns() -> list[Any]:
    patterns = [
        path("sync/", MultiPushView.as_view(), name="multi-sync"),
        path("changes/", MultiChangesView.as_view(), name="multi-changes"),
        *app_patterns(),
    ]
    for name in declared_names():
        push, changes = sync_views(name)
        patterns += [
            path(f"{name}/sync/", push.as_view(), name=f"{name}-sync"),
            path(f"{name}/changes/", changes.as_view(), name=f"{name}-changes"),
        ]
    # Domains declared later (override_settings) and unknown ones (a JSON 404).
    return [
        *patterns,
        path("<str:domain>/sync/", PushView.as_view(), name="sync"),
        path("<str:domain>/changes/", ChangesView.as_view(), name="changes"),
        re_path(r"^(?:(?P<domain>[^/]+)/)?(?P<endpoint>sync|changes)$", missing_slash),
    ]


urlpatterns = build_urlpatterns()
