"""System check ``E020``: ``MOBILE_SYNC["WATERMELON"]`` maps tables WatermelonDB can sync.

Each table must be a name WatermelonDB accepts and map to a declared domain whose model
takes WatermelonDB's ids (``mobile_id = TextMobileIdField()``), and all the mapped domains
must live in one database: a pull's ``timestamp`` is one position of one change clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import router

from .conf import DOCS_URL, sync_settings
from .domains import get_domain
from .ids import uses_text_ids
from .watermelon_tables import TABLE_NAME

HINT = f"See {DOCS_URL}clients/watermelondb.md#settings"


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
