"""System checks: every misconfiguration of ``MOBILE_SYNC`` fails at start-up.

Two model designs are warnings rather than errors: a missing pull index (W001: every pull
reads the tenant's rows from the first) and a foreign key whose ``on_delete`` makes Django
write the synced table with plain SQL (W002: devices are never told).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.db.models import Model, UniqueConstraint

from .conf import THROTTLE_STORES, sync_settings
from .domains import SyncDomain, get_domains
from .indexes import recommended_index, serves_pulls


@checks.register()
def check_mobile_sync(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    declared = sync_settings.DOMAINS
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
        return [*errors, checks.Error(str(exc), id="django_mobile_sync.E010")]
    for domain in domains:
        for code, message in domain.problems():
            errors.append(checks.Error(message, id=f"django_mobile_sync.{code}"))
    return errors


@checks.register()
def check_throttle_store(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``THROTTLE_STORE`` names a store the throttles know (E013)."""
    store = sync_settings.THROTTLE_STORE
    if store in THROTTLE_STORES:
        return []
    return [
        checks.Error(
            f"MOBILE_SYNC['THROTTLE_STORE'] is {store!r}, which is not a throttle store.",
            hint="Use 'database' (counters in the database every process shares) or 'cache' "
            "(counters in THROTTLE_CACHE, a Redis or Memcached cache).",
            id="django_mobile_sync.E013",
        )
    ]


def _domain_models() -> Iterator[tuple[SyncDomain, type[Model]]]:
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
    for domain, model in _domain_models():
        try:
            tenant = [model._meta.get_field(name).name for name in domain.tenant_fields]
        except FieldDoesNotExist:
            continue  # reported by check_mobile_sync
        if not tenant or _has_pull_index(model, tenant):
            continue  # without tenant fields, the mixin's index on change_seq serves
        warnings.append(
            checks.Warning(
                f"{domain.option('model')}: {model.__name__} has no index on "
                f"({', '.join(tenant)}, change_seq): every pull reads the tenant's rows "
                "from the first, and gets slower as the table grows.",
                hint=f"Add {recommended_index(model, tenant)} to {model.__name__}"
                ".Meta.indexes (see docs/benchmarks.md, 'The index pulls need').",
                obj=model,
                id="django_mobile_sync.W001",
            )
        )
    return warnings


def _has_pull_index(model: type[Model], tenant: list[str]) -> bool:
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


#: ``on_delete`` handlers whose writes the deletion collector makes with plain SQL.
_UNSTAMPED_ON_DELETE: dict[Any, tuple[str, str]] = {
    models.CASCADE: ("CASCADE", "deletes the {records} with plain SQL"),
    models.SET_NULL: ("SET_NULL", "sets {field} to NULL with plain SQL"),
    models.SET_DEFAULT: ("SET_DEFAULT", "sets {field} to its default with plain SQL"),
}


@checks.register()
def check_foreign_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn about foreign keys whose ``on_delete`` writes synced rows unseen (W002)."""
    warnings: list[checks.CheckMessage] = []
    seen: set[type[Model]] = set()
    for _domain, model in _domain_models():
        if model in seen:
            continue
        seen.add(model)
        for field in model._meta.concrete_fields:
            if not field.is_relation or field.remote_field is None:
                continue
            on_delete = field.remote_field.on_delete
            found = _UNSTAMPED_ON_DELETE.get(on_delete)
            if found is None and hasattr(on_delete, "deconstruct"):  # models.SET(...)
                found = ("SET(...)", "sets {field} with plain SQL")
            if found is None:
                continue
            handler, effect = found
            name = f"{model.__name__}.{field.name}"
            parent = field.related_model._meta.verbose_name  # type: ignore[union-attr]
            what = effect.format(records=model._meta.verbose_name_plural, field=name)
            warnings.append(
                checks.Warning(
                    f"{name} has on_delete={handler}: when the {parent} it points to is "
                    f"deleted, Django {what}, without a new version or change_seq: devices "
                    "are never told.",
                    hint="Use on_delete=models.PROTECT and change or delete the records through "
                    "the ORM first (deleted records become tombstones devices pull); see "
                    "docs/cursor.md, 'What bypasses the stamping'.",
                    obj=field,
                    id="django_mobile_sync.W002",
                )
            )
    return warnings
