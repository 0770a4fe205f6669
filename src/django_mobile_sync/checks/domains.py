"""System checks of the declared domains: ``E001`` to ``E012``, ``E015``, ``E017``, ``E019``,
``E021``, ``E022``.

:func:`domain_problems` returns each misconfiguration of one ``SyncDomain`` as a
:class:`Problem`: a stable check id, a message naming the domain and the option, and a hint
saying what to do; :func:`check_domains` reports them for every declared domain. ``E021``: a
foreign key in ``fields`` to a model that is not synced that neither a shared tenant field
nor ``related_scopes`` confines to the tenant.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, FieldError, ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS
from django.db.models import F, Model, UniqueConstraint

from ..conf import DOCS_URL, sync_settings
from ..domains import SyncDomain, get_domains
from ..records.related_scopes import plain_foreign_keys, unscoped_foreign_keys
from ..records.syncable import SyncableModelMixin
from ..records.view_keys import view_rule
from ..resolvers import LastWriteWinsResolver
from ..service import SyncService, service_outside_request
from .settings import rate_problem

#: Query parameters of the pull protocol; a domain filter may not take these names.
RESERVED_PARAMS = frozenset({"cursor", "limit", "since", "domains"})
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
DOMAINS_DOC = f"{DOCS_URL}domains.md#options"


@dataclass(frozen=True)
class Problem:
    """One misconfiguration: ``id`` is the check's number (``E005``)."""

    id: str
    message: str
    hint: str = DOMAINS_DOC


def lookup_problem(model: type[Model], lookup: Any) -> str | None:
    """Why ``lookup`` does not resolve on ``model`` (a field, transforms, a lookup), or None."""
    if not isinstance(lookup, str) or not lookup:
        return f"{lookup!r} is not a lookup"
    try:
        model._base_manager.filter(**{lookup: F("pk")})
    except FieldError as exc:
        return str(exc)
    except (TypeError, ValueError):
        return None  # the path resolves; only the sample value does not fit the lookup
    return None


def domain_problems(domain: SyncDomain) -> list[Problem]:
    """Every misconfiguration of ``domain``."""
    found: list[Problem] = []
    if not NAME_RE.match(domain.name or ""):
        found.append(
            Problem(
                "E002",
                f"{domain.option('name')}: {domain.name!r} is not a URL segment "
                "(lowercase letters, digits, '-' and '_').",
            )
        )
    try:
        model = domain.model_class
    except ImproperlyConfigured as exc:
        return [*found, Problem("E003", str(exc))]
    if not issubclass(model, SyncableModelMixin):
        message = f"{domain.option('model')}: {domain.model} does not inherit SyncableModelMixin"
        return [*found, Problem("E004", message, "Add SyncableModelMixin to the model's bases.")]
    found.extend(field_problems(domain, model))
    found.extend(import_problems(domain))
    found.extend(transition_problems(domain, model))
    found.extend(option_problems(domain, model))
    found.extend(related_scope_problems(domain))
    found.extend(view_problems(domain))
    return found


def view_problems(domain: SyncDomain) -> Iterator[Problem]:
    """A ``view`` that does not resolve (docs/views.md): ``E022``."""
    try:
        view_rule(domain)
    except ImproperlyConfigured as exc:
        yield Problem(
            "E022",
            str(exc),
            "Declare view={'key': field, 'user': attribute, ...} or {'inherit': reference}; "
            f"see {DOCS_URL}views.md#the-declaration",
        )


def field_problems(domain: SyncDomain, model: type[Model]) -> Iterator[Problem]:
    names: list[tuple[str, str | None]] = [("fields", name) for name in domain.wire_fields]
    for option in ("tenant_fields", "server_owned_fields"):
        names += [(option, name) for name in getattr(domain, option)]
    for option in ("status_field", "history_field", "client_timestamp_field"):
        names.append((option, getattr(domain, option)))
    for option, name in names:
        if name is None:
            continue
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            yield Problem(
                "E005", f"{domain.option(option)}: {model.__name__} has no field {name!r}."
            )
    for param, lookup in domain.filters.items():
        problem = lookup_problem(model, lookup)
        if problem is not None:
            yield Problem(
                "E017",
                f"{domain.option('filters')}[{param!r}]: {lookup!r} does not resolve on "
                f"{model.__name__}: {problem}",
                f"Use a field of {model.__name__} and lookups it supports, such as "
                f"'status' or 'due_at__date__gte'; see {DOCS_URL}domains.md#pull-filters",
            )


def import_problems(domain: SyncDomain) -> Iterator[Problem]:
    parts: dict[str, Callable[[], object]] = {
        "serializer": lambda: hooks_of(domain).get_serializer_class(),
        "resolver": lambda: hooks_of(domain).get_resolver(),
        "service": lambda: domain.service_class,
        "scope": lambda: domain.scope_callable,
        "database": lambda: domain.database_callable,
        "related_scopes": lambda: domain.related_scope_callables,
    }
    for option in ("authentication_classes", "permission_classes", "throttle_classes"):
        parts[option] = lambda option=option: domain.api_classes(option)  # type: ignore[misc]
    for option, resolve in parts.items():
        try:
            resolve()
        except (ImproperlyConfigured, ImportError, TypeError, ValueError) as exc:
            hint = "Check the import path: it must name an importable module attribute."
            yield Problem(
                "E006",
                f"{domain.option(option)}: {without_option(exc, domain.option(option))}",
                hint,
            )


def without_option(exc: Exception, option: str) -> str:
    """``exc``'s message without the option it names (the check's message starts with it)."""
    text = str(exc).replace(f" for {option}:", ":")
    return text.removeprefix(f"{option}: ")


def transition_problems(domain: SyncDomain, model: type[Model]) -> Iterator[Problem]:
    if not domain.transitions and not domain.status_field:
        return
    hint = f"See {DOCS_URL}domains.md#status-transitions"
    if not (domain.transitions and domain.status_field):
        message = "status_field and transitions must be declared together."
        yield Problem("E007", f"{domain.option('transitions')}: {message}", hint)
        return
    try:
        status = model._meta.get_field(domain.status_field)
    except FieldDoesNotExist:
        return  # reported by field_problems
    choices = {str(value) for value, _ in (getattr(status, "flatchoices", None) or [])}
    unknown = sorted(s for s in domain.states if choices and s not in choices)
    if unknown:
        yield Problem(
            "E007",
            f"{domain.option('transitions')}: unknown state(s) {', '.join(unknown)}; "
            f"{domain.status_field} allows {', '.join(sorted(choices))}.",
            hint,
        )


def option_problems(domain: SyncDomain, model: type[Model]) -> Iterator[Problem]:
    if domain.tenant_fields and domain.scope is None:
        yield Problem(
            "E008",
            f"{domain.option('scope')}: tenant_fields are declared but no scope callable "
            "says which tenant a request belongs to.",
            f"See {DOCS_URL}domains.md#tenancy",
        )
    reserved = sorted(set(domain.filters) & RESERVED_PARAMS)
    if reserved:
        yield Problem(
            "E011",
            f"{domain.option('filters')}: {', '.join(reserved)} are pull parameters of the "
            "protocol; rename the filter.",
        )
    if uses_last_write_wins(domain) and not domain.client_timestamp_field:
        yield Problem(
            "E012",
            f"{domain.option('client_timestamp_field')}: the last_write_wins resolver "
            "compares this field; name it.",
        )
    if not has_unique_mobile_id(domain, model):
        fields = [*domain.tenant_fields, "mobile_id"]
        together = ", ".join(fields)
        name = f"{model._meta.app_label}_{model._meta.model_name}_mobile_id"
        yield Problem(
            "E009",
            f"{domain.option('model')}: {model.__name__} needs a unique constraint on "
            f"({together}) so retries cannot duplicate a record.",
            f"Add models.UniqueConstraint(fields={fields!r}, name={name!r}) to "
            f"{model.__name__}.Meta.constraints.",
        )
    minimum = domain.min_client_schema_version
    if minimum is not None and (type(minimum) is not int or minimum < 1):
        yield Problem(
            "E019",
            f"{domain.option('min_client_schema_version')}: must be a whole number of at "
            f"least 1 (or None), not {minimum!r}.",
            "Give the oldest client schema version devices may sync this domain with, such "
            f"as 2; see {DOCS_URL}domains.md#client-schema-versions",
        )
    for kind, rate in (domain.throttle_rates or {}).items():
        problem = rate_problem(rate)
        if problem is not None:
            yield Problem(
                "E015",
                f"{domain.option('throttle_rates')}[{kind!r}]: {problem}.",
                "Write a DRF rate such as '100/hour' (per second, minute, hour or day), "
                "or None for no limit.",
            )


def related_scope_problems(domain: SyncDomain) -> Iterator[Problem]:
    """Foreign keys to models that are not synced that nothing confines to the tenant."""
    hint_doc = f"{DOCS_URL}relations.md#foreign-keys-to-models-that-are-not-synced"
    tenant = ", ".join(domain.tenant_fields)
    for name, target in unscoped_foreign_keys(domain).items():
        yield Problem(
            "E021",
            f"{domain.option('fields')}: {name!r} is a foreign key to {target.__name__}, which "
            f"is not synced and has no tenant field of this domain ({tenant}): a device could "
            f"name another tenant's {target._meta.verbose_name}.",
            f"Give {target.__name__} the domain's tenant field ({tenant}), or declare "
            f"related_scopes={{{name!r}: 'myapp.tenancy.<function>'}}: a function "
            f"(queryset, scope, request) that narrows {target.__name__}'s queryset to the "
            f"request's tenant; see {hint_doc}",
        )
    if not isinstance(domain.related_scopes, Mapping):
        return  # check E006
    plain = plain_foreign_keys(domain)
    for name in domain.related_scopes:
        if name not in plain:
            yield Problem(
                "E021",
                f"{domain.option('related_scopes')}[{name!r}]: {name!r} is not a foreign key "
                "to a model that is not synced among the fields a device writes.",
                "Name a field of fields that points to a model without SyncableModelMixin; "
                f"references to synced models are scoped by their own domain. See {hint_doc}",
            )


def hooks_of(domain: SyncDomain) -> SyncService:
    """The domain's service outside a request, whose hooks pick its serializer and resolver
    (an override is checked as a push would use it); ``SyncService`` when the domain's own
    service class does not import (``E006`` reports that)."""
    try:
        return service_outside_request(domain)
    except (ImproperlyConfigured, ImportError, TypeError, ValueError):
        return SyncService(domain, scope={}, using=DEFAULT_DB_ALIAS)


def uses_last_write_wins(domain: SyncDomain) -> bool:
    try:
        return isinstance(hooks_of(domain).get_resolver(), LastWriteWinsResolver)
    except (ImproperlyConfigured, ImportError, TypeError, ValueError):
        return False


def has_unique_mobile_id(domain: SyncDomain, model: type[Model]) -> bool:
    wanted = {*domain.tenant_fields, "mobile_id"}
    if getattr(model._meta.get_field("mobile_id"), "unique", False) and not domain.tenant_fields:
        return True
    candidates = [
        set(c.fields)
        for c in model._meta.constraints
        if isinstance(c, UniqueConstraint) and c.condition is None
    ]
    candidates += [set(t) for t in model._meta.unique_together]
    return any(c == wanted for c in candidates)


@checks.register()
def check_domains(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
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
                    problem.message,
                    hint=problem.hint,
                    obj=declared_model(domain),  # Django prints "app.Model: ", not "?: "
                    id=f"django_mobile_sync.{problem.id}",
                )
            )
    return errors


def declared_model(domain: SyncDomain) -> type[Model] | None:
    """The domain's model, for the check's ``obj``; ``None`` when it does not resolve."""
    try:
        return domain.model_class
    except ImproperlyConfigured:
        return None
