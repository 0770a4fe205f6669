"""The system check of the live app's settings: ``E014`` for a value of the wrong type."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from django_mobile_sync.checks import positive_int, setting_type_error
from django_mobile_sync.conf import DOCS_URL

from .backends import BACKENDS

HINT = f"See {DOCS_URL}live.md#settings"


def seconds(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return "must be a positive number of seconds"
    return None


def backend(value: Any) -> str | None:
    return None if value in BACKENDS else f"must be one of {', '.join(BACKENDS)}"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def optional_text(value: Any) -> str | None:
    return None if value is None else text(value)


#: What the value of each of the app's keys must be.
KINDS = {
    "STREAM_HEARTBEAT": seconds,
    "MAX_STREAMS_PER_USER": positive_int,
    "LIVE_BACKEND": backend,
    "LIVE_POLL_INTERVAL": seconds,
    "LIVE_SAFETY_INTERVAL": seconds,
    "LIVE_DATABASE": text,
    "LIVE_REDIS_URL": optional_text,
    "LIVE_CHANNEL": text,
}


@checks.register()
def check_live_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The values of the app's ``MOBILE_SYNC`` keys (E014)."""
    configured = getattr(settings, "MOBILE_SYNC", None) or {}
    if not isinstance(configured, dict):
        return []  # the library's E014
    errors = []
    for key, kind in KINDS.items():
        problem = kind(configured[key]) if key in configured else None
        if problem is not None:
            errors.append(setting_type_error(key, configured[key], problem, HINT))
    if configured.get("LIVE_BACKEND") == "redis" and not configured.get("LIVE_REDIS_URL"):
        errors.append(
            setting_type_error("LIVE_REDIS_URL", None, "must name the Redis server", HINT)
        )
    return errors
