from __future__ import annotations

from django.apps import AppConfig


class LiveConfig(AppConfig):
    """Live streams: their settings, lease table, URLs and the commit wake-up."""

    name = "django_mobile_sync.live"
    label = "mobile_sync_live"
    verbose_name = "Mobile sync: live streams"
    default_auto_field = "django.db.models.BigAutoField"
    #: Served under the library's URLs (``include("django_mobile_sync.urls")``).
    sync_urls = "django_mobile_sync.live.urls"

    def ready(self) -> None:
        from django_mobile_sync.conf import extend_defaults
        from django_mobile_sync.signals import changes_committed

        from . import DEFAULTS, checks  # noqa: F401  (checks: registers the system checks)
        from .backends import on_changes_committed

        extend_defaults(DEFAULTS)
        changes_committed.connect(on_changes_committed, dispatch_uid="mobile_sync_live")
