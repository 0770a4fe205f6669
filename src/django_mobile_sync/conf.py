"""The ``MOBILE_SYNC`` settings dict, read through :data:`sync_settings`.

Values are read from ``django.conf.settings`` on every access, so ``override_settings``
works in tests, and import strings are resolved when they are used. An optional app of the
library (a client protocol such as ``django_mobile_sync.watermelondb``) declares its own keys
with :func:`extend_defaults` from its ``AppConfig.ready()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

__all__ = [
    "DEFAULTS",
    "DOCS_URL",
    "LIBRARY_KEYS",
    "SyncSettings",
    "extend_defaults",
    "import_from_setting",
    "sync_settings",
]

#: Where the documentation lives; system check hints and error messages link to it.
DOCS_URL = "https://github.com/django-mobile-sync/django-mobile-sync/blob/main/docs/"

DEFAULTS: dict[str, Any] = {
    # SyncDomain declarations (instances of SyncDomain or dicts of its arguments).
    "DOMAINS": [],
    # Push: most entries one batch may carry.
    "MAX_BATCH_SIZE": 1000,
    # Pull: default and largest page, and the byte budget of one page.
    "DEFAULT_PAGE_SIZE": 100,
    "MAX_PAGE_SIZE": 1000,
    "MAX_PAGE_BYTES": 2 * 1024 * 1024,
    # Largest request body, checked before parsing and again after gunzip.
    "MAX_BODY_BYTES": 10 * 1024 * 1024,
    # Idempotency records live this long; a key whose request is still running is locked
    # for at most IDEMPOTENCY_LOCK_TIMEOUT (so a crashed request does not lock it forever).
    "IDEMPOTENCY_TTL": timedelta(hours=24),
    "IDEMPOTENCY_LOCK_TIMEOUT": timedelta(minutes=5),
    # Tombstones are purged after this long (manage.py purge_tombstones).
    "TOMBSTONE_RETENTION": timedelta(days=90),
    # Resolver used by domains that do not name one.
    "DEFAULT_RESOLVER": "reject",
    # SyncService subclass used by domains that do not name one.
    "DEFAULT_SERVICE_CLASS": "django_mobile_sync.service.SyncService",
    # DRF classes for the sync views; None means DRF's own defaults.
    "AUTHENTICATION_CLASSES": None,
    "PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "THROTTLE_CLASSES": [
        "django_mobile_sync.throttling.PushUserRateThrottle",
        "django_mobile_sync.throttling.PushDeviceRateThrottle",
        "django_mobile_sync.throttling.PullUserRateThrottle",
        "django_mobile_sync.throttling.PullDeviceRateThrottle",
    ],
    # DRF rate strings ("100/hour"); None or absent means unlimited. A domain's
    # throttle_rates override these key by key.
    "THROTTLE_RATES": {
        "user": "100/hour",
        "device": "50/hour",
        "pull_user": None,
        "pull_device": None,
    },
    # Where the throttle counters live: "database" (ThrottleCounter rows, counted by one
    # atomic upsert; shared by every process using the database) or "cache" (THROTTLE_CACHE).
    "THROTTLE_STORE": "database",
    # Cache alias of the counters when THROTTLE_STORE is "cache"; must be shared by every
    # server process and increment atomically (Redis, Memcached).
    "THROTTLE_CACHE": "default",
    # PostgreSQL: which open transactions hold pulls back, those that can write this
    # database ("database") or every transaction of the cluster ("cluster").
    "PULL_HORIZON": "database",
    # PostgreSQL: hot standbys pulls read, {primary alias: standby alias or list of aliases}.
    "PULL_DATABASES": {},
    # Salt for the signed pull cursor.
    "CURSOR_SALT": "django_mobile_sync.cursor",
}

#: The library's own keys: an optional app may not declare them again.
LIBRARY_KEYS = frozenset(DEFAULTS)

#: Values of ``THROTTLE_STORE``.
THROTTLE_STORES = ("database", "cache")

IMPORT_STRINGS = {"AUTHENTICATION_CLASSES", "PERMISSION_CLASSES", "THROTTLE_CLASSES"}


def import_from_setting(value: Any, setting_name: str) -> Any:
    """Import ``value`` if it is a dotted path; name the setting when that fails."""
    if not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"Could not import {value!r} for {setting_name}: {exc}"
        ) from exc


def extend_defaults(defaults: Mapping[str, Any]) -> None:
    """Declare an optional app's ``MOBILE_SYNC`` keys with their defaults.

    Call it from the app's ``AppConfig.ready()``: the keys then read like the library's own
    (``sync_settings.KEY``), and the system check ``E013`` knows them. Declaring a key again
    with the same default (``ready()`` run twice) changes nothing.

    Raises:
        ImproperlyConfigured: a key the library already has, or one another app declared
            with another default.
    """
    for key, value in defaults.items():
        if key in LIBRARY_KEYS:
            raise ImproperlyConfigured(
                f"MOBILE_SYNC[{key!r}] is a setting of django-mobile-sync itself: an optional "
                "app cannot declare it; give the app's setting another name."
            )
        if key in DEFAULTS and DEFAULTS[key] != value:
            raise ImproperlyConfigured(
                f"MOBILE_SYNC[{key!r}] is declared by two optional apps, with the defaults "
                f"{DEFAULTS[key]!r} and {value!r}; give one of them another name."
            )
    DEFAULTS.update(defaults)


class SyncSettings:
    """Attribute access to ``settings.MOBILE_SYNC`` with :data:`DEFAULTS` filled in."""

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, "MOBILE_SYNC", None) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid MOBILE_SYNC setting: {name!r}")
        value = self.user_settings.get(name, DEFAULTS[name])
        if name in IMPORT_STRINGS and value is not None:
            return [import_from_setting(item, f"MOBILE_SYNC[{name!r}]") for item in value]
        return value


sync_settings = SyncSettings()
