from __future__ import annotations

from django.apps import AppConfig


class MobileSyncConfig(AppConfig):
    name = "django_mobile_sync"
    label = "django_mobile_sync"
    verbose_name = "Mobile sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .records import connect_parent_guards

        connect_parent_guards()
