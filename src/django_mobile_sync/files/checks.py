"""The system checks of the files app's settings: ``E014`` for a key of the wrong type, or a
``FILES_STORAGE`` that ``settings.STORAGES`` does not name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import checks

from django_mobile_sync.checks import positive_int, setting_type_error
from django_mobile_sync.conf import DOCS_URL

HINT = f"See {DOCS_URL}settings.md#files"


def duration(value: Any) -> str | None:
    return None if isinstance(value, timedelta) else "must be a datetime.timedelta"


def name(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def storage_alias(value: Any) -> str | None:
    if not isinstance(value, str) or value not in getattr(settings, "STORAGES", {}):
        return "must be an alias of settings.STORAGES"
    return None


def scope(value: Any) -> str | None:
    if value is None or callable(value) or (isinstance(value, str) and value):
        return None
    return "must be None, or the import path of a callable(request) -> dict"


#: What the value of each of the app's keys must be.
KINDS = {
    "MAX_FILE_BYTES": positive_int,
    "MAX_UPLOADS_IN_PROGRESS": positive_int,
    "UPLOAD_EXPIRY": duration,
    "FILE_RETENTION": duration,
    "UPLOAD_LOCK_TIMEOUT": duration,
    "FILES_STORAGE": storage_alias,
    "FILES_LOCATION": name,
    "FILES_SCOPE": scope,
}


@checks.register()
def check_files_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The values of the app's ``MOBILE_SYNC`` keys (E014)."""
    configured = getattr(settings, "MOBILE_SYNC", None) or {}
    if not isinstance(configured, dict):
        return []  # the library's E014
    errors = []
    for key, kind in KINDS.items():
        value = configured.get(key, "default" if key == "FILES_STORAGE" else None)
        if key not in configured and key != "FILES_STORAGE":
            continue
        problem = kind(value)
        if problem is not None:
            errors.append(setting_type_error(key, value, problem, HINT))
    return errors
