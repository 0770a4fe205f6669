"""System check ``W001``: each domain's model has an index a pull can start at.

A pull reads a tenant's rows after a ``(change_seq, pk)`` position: without an index on the
tenant fields, then ``change_seq``, every pull reads the tenant's rows from the first and gets
slower as the table grows (docs/benchmarks.md#the-index-pulls-need). ``sync_doctor`` looks at
the real tables' indexes (:mod:`django_mobile_sync.ops.doctor`); this check at the declared
ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import Model, UniqueConstraint

from ..conf import DOCS_URL
from ..domains import SyncDomain, get_domains
from ..records.indexes import recommended_index, serves_pulls


def domain_models() -> Iterator[tuple[SyncDomain, type[Model]]]:
    """Each declared domain with its model; misdeclared ones are check_domains'."""
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
            continue  # reported by check_domains
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
