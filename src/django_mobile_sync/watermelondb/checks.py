"""The system checks of the WatermelonDB app's settings.

- ``E014``: ``WATERMELON`` or ``WATERMELON_MAX_PUSH_RECORDS`` of the wrong type;
- ``E020``: ``MOBILE_SYNC["WATERMELON"]`` maps tables WatermelonDB cannot sync. Each table
  must be a name WatermelonDB accepts and map to a declared domain whose model takes
  WatermelonDB's ids (``mobile_id = TextMobileIdField()``), and all the mapped domains must
  live in one database: a pull's ``timestamp`` is one position of one change clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import router

from django_mobile_sync.checks import positive_int, setting_type_error
from django_mobile_sync.conf import DOCS_URL, sync_settings
from django_mobile_sync.domains import get_domain
from django_mobile_sync.records import uses_text_ids

from .tables import TABLE_NAME

HINT = f"See {DOCS_URL}clients/watermelondb.md#settings"


def table_map(value: Any) -> str | None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return "must be a dict of WatermelonDB table names to domain names"
    return None


#: What the value of each of the app's keys must be.
KINDS = {"WATERMELON": table_map, "WATERMELON_MAX_PUSH_RECORDS": positive_int}


@checks.register()
def check_watermelon_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The values of the app's ``MOBILE_SYNC`` keys (E014)."""
    configured = getattr(settings, "MOBILE_SYNC", None) or {}
    if not isinstance(configured, dict):
        return []  # the library's E014
    errors = []
    for key, kind in KINDS.items():
        problem = kind(configured[key]) if key in configured else None
        if problem is not None:
            errors.append(setting_type_error(key, configured[key], problem))
    return errors


@checks.register()
def check_watermelon(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The tables of ``MOBILE_SYNC["WATERMELON"]`` (E020)."""
    mapping = sync_settings.WATERMELON
    if not isinstance(mapping, dict) or not mapping:
        return []  # absent, or E014
    return [
        checks.Error(message, hint=hint, id="django_mobile_sync.E020")
        for message, hint in problems(mapping)
    ]


def problems(mapping: dict[Any, Any]) -> Iterator[tuple[str, str]]:
    databases: dict[str, list[str]] = {}
    for table, name in mapping.items():
        option = f"MOBILE_SYNC['WATERMELON'][{table!r}]"
        if not isinstance(table, str) or not TABLE_NAME.match(table):
            yield (
                f"{option}: {table!r} is not a WatermelonDB table name.",
                "Use letters, digits and underscores (the name in the app's appSchema).",
            )
            continue
        try:
            domain = get_domain(name) if isinstance(name, str) else None
        except (ImproperlyConfigured, TypeError):
            return  # the domain checks report it
        if domain is None:
            yield f"{option}: there is no domain named {name!r}.", HINT
            continue
        model = domain.model_class
        if not uses_text_ids(model):
            yield (
                f"{option}: the model {model._meta.label} of the domain {name!r} takes only "
                "UUIDs as mobile_id; WatermelonDB's ids are 16 characters.",
                "Declare mobile_id = TextMobileIdField() on the model and run makemigrations. "
                + HINT,
            )
        if domain.database is None:
            databases.setdefault(str(router.db_for_write(model)), []).append(table)
    if len(databases) > 1:
        listed = "; ".join(f"{alias}: {', '.join(t)}" for alias, t in sorted(databases.items()))
        yield (
            f"MOBILE_SYNC['WATERMELON']: the tables live in several databases ({listed}).",
            "A WatermelonDB sync reads one database; map tables of one database. " + HINT,
        )
