"""System checks of the ``MOBILE_SYNC`` keys: each one known, of its type, importable.

- ``E013``: an unknown key (the hint suggests the closest valid one); the keys an optional
  app of the library declares (``conf.extend_defaults()``) are known once it is installed;
- ``E014``: a value of the wrong type (``MAX_BATCH_SIZE = "abc"``) or outside its choices
  (an optional app checks its own keys' values, with :func:`setting_type_error`);
- ``E015``: a bad rate string;
- ``E016``: an import path of a global setting that does not import;
- ``E018``: ``PULL_DATABASES`` names a database alias that is not in ``DATABASES``, or
  routes a database's pulls to itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import SimpleRateThrottle

from ..conf import DEFAULTS, DOCS_URL, THROTTLE_STORES, import_from_setting
from ..resolvers import get_resolver

SETTINGS_DOC = f"{DOCS_URL}settings.md"


def setting_hint(key: str) -> str:
    return f"See {SETTINGS_DOC}#{key.lower()}"


def positive_int(value: Any) -> str | None:
    if type(value) is not int or value < 1:
        return "must be a whole number of at least 1"
    return None


def duration(value: Any) -> str | None:
    return None if isinstance(value, timedelta) else "must be a datetime.timedelta"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def sequence(value: Any) -> str | None:
    return None if isinstance(value, list | tuple) else "must be a list"


def optional_sequence(value: Any) -> str | None:
    return None if value is None else sequence(value)


def rates(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be a dict of DRF rate strings"


def database_map(value: Any) -> str | None:
    problem = "must be a dict of database aliases: {primary: standby or [standbys]}"
    if not isinstance(value, dict):
        return problem
    for standbys in value.values():
        names = [standbys] if isinstance(standbys, str) else standbys
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            return problem
    return None


def one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(repr, choices))}"

    return check


def path_or_object(value: Any) -> str | None:
    return (
        None
        if value is not None and not isinstance(value, int | float | bool)
        else ("must be an import path or a class")
    )


def rate_problem(rate: Any) -> str | None:
    """Why ``rate`` is not a DRF rate string (``"100/hour"``), or ``None``."""
    if rate is None:
        return None
    if not isinstance(rate, str):
        return f"{rate!r} is not a rate string"
    try:
        SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"{rate!r} is not a rate"
    return None


#: What each key's value must be.
KINDS: dict[str, Callable[[Any], str | None]] = {
    "DOMAINS": sequence,
    "MAX_BATCH_SIZE": positive_int,
    "DEFAULT_PAGE_SIZE": positive_int,
    "MAX_PAGE_SIZE": positive_int,
    "MAX_PAGE_BYTES": positive_int,
    "MAX_BODY_BYTES": positive_int,
    "IDEMPOTENCY_TTL": duration,
    "IDEMPOTENCY_LOCK_TIMEOUT": duration,
    "TOMBSTONE_RETENTION": duration,
    "DEFAULT_RESOLVER": path_or_object,
    "DEFAULT_SERVICE_CLASS": path_or_object,
    "AUTHENTICATION_CLASSES": optional_sequence,
    "PERMISSION_CLASSES": sequence,
    "THROTTLE_CLASSES": sequence,
    "THROTTLE_RATES": rates,
    "THROTTLE_CACHE": text,
    "THROTTLE_STORE": one_of(*THROTTLE_STORES),
    "PULL_HORIZON": one_of("database", "cluster"),
    "PULL_DATABASES": database_map,
    "CURSOR_SALT": text,
}


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every ``MOBILE_SYNC`` key: known (E013), of the right type (E014), rates (E015),
    import paths (E016)."""
    configured = getattr(settings, "MOBILE_SYNC", None) or {}
    if not isinstance(configured, dict):
        return [
            checks.Error(
                "MOBILE_SYNC must be a dict.", hint=SETTINGS_DOC, id="django_mobile_sync.E014"
            )
        ]
    errors: list[checks.CheckMessage] = []
    for key, value in configured.items():
        if key not in DEFAULTS:
            close = difflib.get_close_matches(str(key), list(DEFAULTS), n=1)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            errors.append(
                checks.Error(
                    f"MOBILE_SYNC[{key!r}] is not a setting of django-mobile-sync.",
                    hint=f"{hint}The settings are listed at {SETTINGS_DOC}",
                    id="django_mobile_sync.E013",
                )
            )
            continue
        problem = KINDS.get(key, lambda v: None)(value)
        if problem is not None:
            errors.append(setting_type_error(key, value, problem))
            continue
        errors.extend(value_errors(key, value))
    return errors


def setting_type_error(
    key: str, value: Any, problem: str, hint: str | None = None
) -> checks.CheckMessage:
    """``E014`` for ``MOBILE_SYNC[key]``: ``problem`` says what the value must be."""
    return checks.Error(
        f"MOBILE_SYNC[{key!r}] {problem}, not {value!r}.",
        hint=hint or setting_hint(key),
        id="django_mobile_sync.E014",
    )


def value_errors(key: str, value: Any) -> Iterator[checks.CheckMessage]:
    """Rates that do not parse, import paths that do not import."""
    if key == "THROTTLE_RATES":
        for kind, rate in value.items():
            problem = rate_problem(rate)
            if problem is not None:
                yield checks.Error(
                    f"MOBILE_SYNC['THROTTLE_RATES'][{kind!r}]: {problem}.",
                    hint="Write a DRF rate such as '100/hour' (per second, minute, hour or "
                    "day), or None for no limit.",
                    id="django_mobile_sync.E015",
                )
    if key == "PULL_DATABASES":
        yield from pull_database_errors(value)
    paths: dict[str, Callable[[], object]] = {
        "AUTHENTICATION_CLASSES": lambda: [import_from_setting(v, key) for v in value or ()],
        "PERMISSION_CLASSES": lambda: [import_from_setting(v, key) for v in value],
        "THROTTLE_CLASSES": lambda: [import_from_setting(v, key) for v in value],
        "DEFAULT_SERVICE_CLASS": lambda: import_from_setting(value, key),
        "DEFAULT_RESOLVER": lambda: get_resolver(value, f"MOBILE_SYNC[{key!r}]"),
    }
    if key in paths:
        try:
            paths[key]()
        except (ImproperlyConfigured, ImportError, TypeError, ValueError) as exc:
            yield checks.Error(
                f"MOBILE_SYNC[{key!r}]: {exc}",
                hint="Check the import path: it must name an importable module attribute. "
                + setting_hint(key),
                id="django_mobile_sync.E016",
            )


def pull_database_errors(value: dict[str, Any]) -> Iterator[checks.CheckMessage]:
    """Every alias of ``PULL_DATABASES`` is a database; no database is its own standby."""
    for primary, standbys in value.items():
        names = [standbys] if isinstance(standbys, str) else list(standbys)
        for alias in [primary, *names]:
            if alias not in settings.DATABASES:
                yield checks.Error(
                    f"MOBILE_SYNC['PULL_DATABASES'] names the database {alias!r}, which is "
                    "not in DATABASES.",
                    hint="Declare the hot standby in DATABASES (its HOST and PORT, the same "
                    "NAME as the primary) or remove it. " + setting_hint("PULL_DATABASES"),
                    id="django_mobile_sync.E018",
                )
        if primary in names:
            yield checks.Error(
                f"MOBILE_SYNC['PULL_DATABASES'][{primary!r}] names {primary!r} itself.",
                hint="List the aliases of its hot standbys; pulls read the primary anyway "
                "when a standby cannot serve them.",
                id="django_mobile_sync.E018",
            )
