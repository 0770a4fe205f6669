from __future__ import annotations

from django.apps import AppConfig


class FieldOpsConfig(AppConfig):
    """Field operations of a facility-management company, synced to mobile devices."""

    name = "field_ops"
    verbose_name = "Field operations"
    default_auto_field = "django.db.models.BigAutoField"
