from __future__ import annotations

from django.apps import AppConfig


class WatermelonDBConfig(AppConfig):
    """The WatermelonDB adapter: its settings, checks, tables and URLs."""

    name = "django_mobile_sync.watermelondb"
    label = "mobile_sync_watermelondb"
    verbose_name = "Mobile sync: WatermelonDB"
    default_auto_field = "django.db.models.BigAutoField"
    #: Served under the library's URLs (``include("django_mobile_sync.urls")``).
    sync_urls = "django_mobile_sync.watermelondb.urls"
    #: ``manage.py sync_client_schema --format watermelondb``.
    client_schema_formats = {
        "watermelondb": "django_mobile_sync.watermelondb.client_schema.watermelon_schema"
    }

    def ready(self) -> None:
        from django_mobile_sync.conf import extend_defaults

        from . import DEFAULTS, checks  # noqa: F401  (checks: registers the system checks)

        extend_defaults(DEFAULTS)
