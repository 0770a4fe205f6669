"""The system checks of the files app: ``E014`` for a key of the wrong type, or a
``FILES_STORAGE`` that ``settings.STORAGES`` does not name; ``E023`` for a domain with file
references whose scope is not the files' tenant (``FILES_SCOPE``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from django_mobile_sync.checks import positive_int, setting_type_error
from django_mobile_sync.conf import DOCS_URL, import_from_setting, sync_settings
from django_mobile_sync.domains import SyncDomain, get_domains

from .fields import file_reference_fields

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


def files_scope(domains: list[SyncDomain]) -> tuple[Any, str]:
    """The callable that gives the files' tenant, and where it is declared."""
    setting = sync_settings.FILES_SCOPE
    if setting is not None:
        return import_from_setting(setting, "MOBILE_SYNC['FILES_SCOPE']"), "FILES_SCOPE"
    for domain in domains:
        if domain.scope is not None:
            return domain.scope_callable, f"the scope of the domain {domain.name!r}"
    return None, "no scope (no FILES_SCOPE, no domain with a scope)"


def scope_mismatch(domain: SyncDomain, expected: Any, source: str) -> checks.CheckMessage:
    fields = ", ".join(f.name for f in file_reference_fields(domain.model_class))
    return checks.Error(
        f"The domain {domain.name!r} has file references ({fields}) but its scope "
        f"({domain.scope!r}) is not the files' tenant, {source}: its records would look "
        "for their files in another tenant and pull as never available.",
        hint="Give the domain the scope that FILES_SCOPE names (or set FILES_SCOPE to the "
        "domain's scope). If two callables give the same tenant, name one of them in both "
        f"places. See {DOCS_URL}files.md#tenancy",
        id="django_mobile_sync.E023",
    )


@checks.register()
def check_files_scope(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every domain with a ``FileReferenceField`` uses the files' scope, and
    ``FILES_SCOPE`` imports (E023)."""
    configured = getattr(settings, "MOBILE_SYNC", None) or {}
    if not isinstance(configured, dict) or scope(configured.get("FILES_SCOPE")) is not None:
        return []  # E014
    try:
        domains = list(get_domains().values())
    except (ImproperlyConfigured, TypeError):
        return []  # E010
    try:
        expected, source = files_scope(domains)
    except ImproperlyConfigured as exc:
        if configured.get("FILES_SCOPE") is None:
            return []  # the first domain's scope: E006
        return [checks.Error(str(exc), hint=HINT, id="django_mobile_sync.E023")]
    errors = []
    for domain in domains:
        try:
            model = domain.model_class
            own = domain.scope_callable
        except (ImproperlyConfigured, TypeError, LookupError):
            continue  # E003, E006
        if file_reference_fields(model) and own is not expected:
            errors.append(scope_mismatch(domain, expected, source))
    return errors
