"""``include("django_mobile_sync.urls")``: push and changes endpoints of every domain, and the
multi-domain ones (``sync/``, ``changes/``)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from .domains import get_domains
from .multi import MultiChangesView, MultiPushView
from .views import ChangesView, PushView, sync_views

app_name = "mobile_sync"


def build_urlpatterns() -> list[Any]:
    patterns = [
        path("sync/", MultiPushView.as_view(), name="multi-sync"),
        path("changes/", MultiChangesView.as_view(), name="multi-changes"),
    ]
    for name in get_domains():
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
    ]


urlpatterns = build_urlpatterns()
