from __future__ import annotations

from django.apps import AppConfig


class FilesConfig(AppConfig):
    """Files: resumable uploads, content-addressed storage, file references in records."""

    name = "django_mobile_sync.files"
    label = "mobile_sync_files"
    verbose_name = "Mobile sync: files"
    default_auto_field = "django.db.models.BigAutoField"
    #: Served under the library's URLs (``include("django_mobile_sync.urls")``).
    sync_urls = "django_mobile_sync.files.urls"

    def ready(self) -> None:
        from django_mobile_sync.conf import extend_defaults

        from . import DEFAULTS, checks  # noqa: F401  (checks: registers the system checks)

        extend_defaults(DEFAULTS)
