"""System checks: every misconfiguration of ``MOBILE_SYNC`` fails at start-up.

Each message names the setting (``MOBILE_SYNC['MAX_BATCH_SIZE']``) or the domain and its
option, and its hint says what to do or links to the documentation. Ids are stable:

- ``E001`` to ``E012``, ``E015`` to ``E017``, ``E019``, ``E021``: the domains (see
  :mod:`.domain_checks`; ``E021``: a foreign key in ``fields`` to a model that is not synced
  that neither a shared tenant field nor ``related_scopes`` confines to the tenant);
- ``E013``: an unknown key (the hint suggests the closest valid one);
- ``E014``: a value of the wrong type (``MAX_BATCH_SIZE = "abc"``) or outside its choices;
- ``E015``: a bad rate string;
- ``E016``: an import path of a global setting that does not import;
- ``E018``: ``PULL_DATABASES`` names a database alias that is not in ``DATABASES``, or
  routes a database's pulls to itself;
- ``E020``: ``WATERMELON`` maps a table to an unknown domain, to a domain whose model keeps
  UUID-only ids, or to domains in several databases (see :mod:`.watermelon_checks`).

One model design is a warning rather than an error: a missing pull index (W001: every pull
reads the tenant's rows from the first).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import Model, UniqueConstraint

from .conf import DEFAULTS, DOCS_URL, THROTTLE_STORES, import_from_setting, sync_settings
from .domain_checks import domain_problems, rate_problem
from .domains import SyncDomain, get_domains
from .indexes import recommended_index, serves_pulls
from .resolvers import get_resolver

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


def table_map(value: Any) -> str | None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return "must be a dict of WatermelonDB table names to domain names"
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
    "WATERMELON": table_map,
    "WATERMELON_MAX_PUSH_RECORDS": positive_int,
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
            errors.append(
                checks.Error(
                    f"MOBILE_SYNC[{key!r}] {problem}, not {value!r}.",
                    hint=setting_hint(key),
                    id="django_mobile_sync.E014",
                )
            )
            continue
        errors.extend(value_errors(key, value))
    return errors


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


@checks.register()
def check_mobile_sync(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The declared domains (E001 to E012, E015 to E017, E019)."""
    errors: list[checks.CheckMessage] = []
    declared = sync_settings.DOMAINS
    if not isinstance(declared, list | tuple):
        return []  # E014
    names = Counter(
        getattr(d, "name", None) or (d.get("name") if isinstance(d, dict) else None)
        for d in declared
    )
    for name, count in names.items():
        if count > 1:
            errors.append(
                checks.Error(
                    f"MOBILE_SYNC['DOMAINS']: the domain name {name!r} is declared {count} times.",
                    hint="Give every domain its own name: it is the URL segment.",
                    id="django_mobile_sync.E001",
                )
            )
    try:
        domains = get_domains().values()
    except (ImproperlyConfigured, TypeError) as exc:
        return [
            *errors,
            checks.Error(
                str(exc), hint=f"See {DOCS_URL}domains.md#options", id="django_mobile_sync.E010"
            ),
        ]
    for domain in domains:
        for problem in domain_problems(domain):
            errors.append(
                checks.Error(
                    problem.message, hint=problem.hint, id=f"django_mobile_sync.{problem.id}"
                )
            )
    return errors


def domain_models() -> Iterator[tuple[SyncDomain, type[Model]]]:
    """Each declared domain with its model; misdeclared ones are check_mobile_sync's."""
    try:
        domains = get_domains().values()
    except (ImproperlyConfigured, TypeError):
        return
    for domain in domains:
        try:
            yield domain, domain.model_class
        except ImproperlyConfigured:
            continue


@checks.register()
def check_pull_indexes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn about domains whose model has no index a pull can start at (W001)."""
    warnings: list[checks.CheckMessage] = []
    for domain, model in domain_models():
        try:
            tenant = [model._meta.get_field(name).name for name in domain.tenant_fields]
        except FieldDoesNotExist:
            continue  # reported by check_mobile_sync
        if not tenant or has_pull_index(model, tenant):
            continue  # without tenant fields, the mixin's index on change_seq serves
        warnings.append(
            checks.Warning(
                f"{domain.option('model')}: {model.__name__} has no index on "
                f"({', '.join(tenant)}, change_seq): every pull reads the tenant's rows "
                "from the first, and gets slower as the table grows.",
                hint=f"Add {recommended_index(model, tenant)} to {model.__name__}"
                f".Meta.indexes (see {DOCS_URL}benchmarks.md#the-index-pulls-need).",
                obj=model,
                id="django_mobile_sync.W001",
            )
        )
    return warnings


def has_pull_index(model: type[Model], tenant: list[str]) -> bool:
    """Whether one of ``model``'s declared indexes (or unique constraints) serves pulls."""
    opts = model._meta
    candidates = [
        list(index.fields) for index in opts.indexes if index.fields and index.condition is None
    ]
    candidates += [
        list(c.fields)
        for c in opts.constraints
        if isinstance(c, UniqueConstraint) and c.fields and c.condition is None
    ]
    candidates += [list(fields) for fields in opts.unique_together]
    for fields in candidates:
        try:
            names = [opts.get_field(name.lstrip("-")).name for name in fields]
        except FieldDoesNotExist:
            continue  # Django's own checks report it (models.E012)
        if serves_pulls(names, tenant, "change_seq"):
            return True
    return False
