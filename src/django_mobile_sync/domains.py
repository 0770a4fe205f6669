"""``SyncDomain``: the declaration of one synced model, and the registry of declared domains.

This module imports no models, so settings files can import :class:`SyncDomain`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from .conf import import_from_setting, sync_settings

if TYPE_CHECKING:
    from django.db.models import Model
    from rest_framework.request import Request
    from rest_framework.serializers import Serializer

    from .resolvers import ConflictResolver
    from .service import SyncService

#: Fields the mixin owns; never taken from a device.
SYSTEM_FIELDS = frozenset(
    {
        "id",
        "mobile_id",
        "version",
        "created_at",
        "updated_at",
        "change_seq",
        "deleted",
        "deleted_at",
        "field_versions",
    }
)
#: Query parameters of the pull protocol; a domain filter may not take these names.
RESERVED_PARAMS = frozenset({"cursor", "limit", "since"})
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(eq=False)
class SyncDomain:
    """One synced model, declared in ``settings.MOBILE_SYNC["DOMAINS"]``.

    Args:
        name: URL segment (``{prefix}{name}/sync/`` and ``{prefix}{name}/changes/``).
        model: ``"app_label.ModelName"``; the model must use ``SyncableModelMixin``.
        fields: fields on the wire (besides ``mobile_id``, ``version``, ``deleted``,
            ``updated_at``); ``"__all__"`` means every editable non-tenant field.
        serializer: import path of a serializer class; default: generated from ``fields``.
        resolver: short name (``reject``, ``server_wins``, ``client_wins``,
            ``last_write_wins``, ``merge``) or import path of a ``ConflictResolver``.
        tenant_fields: model fields that carry the tenant; server-owned, part of the unique
            constraint with ``mobile_id``.
        scope: import path of ``scope(request) -> dict`` giving the tenant field values of
            the requesting user; used to filter every query and to stamp new records.
        database: import path of ``database(request) -> str``, the alias for the request.
        status_field / transitions: a state machine, ``{state: [reachable states]}``.
        server_owned_fields: fields a device can read but never write.
        filters: pull filters, ``{query parameter: ORM lookup}``.
        history_field: a JSON list field that gets one entry per accepted change.
        client_timestamp_field: field compared by ``last_write_wins``.
        service: import path of a ``SyncService`` subclass.
        max_batch_size / max_page_size: per-domain limits overriding the global ones.
        throttle_rates: per-domain rates (``user``, ``device``, ``pull_user``,
            ``pull_device``) overriding ``MOBILE_SYNC["THROTTLE_RATES"]`` key by key.
    """

    name: str
    model: str
    fields: Sequence[str] | str = "__all__"
    serializer: str | type[Serializer] | None = None
    resolver: str | type[ConflictResolver] | None = None
    tenant_fields: Sequence[str] = ()
    scope: str | Callable[[Request], Mapping[str, Any]] | None = None
    database: str | Callable[[Request], str] | None = None
    status_field: str | None = None
    transitions: Mapping[str, Sequence[str]] | None = None
    server_owned_fields: Sequence[str] = ()
    filters: Mapping[str, str] = field(default_factory=dict)
    history_field: str | None = None
    client_timestamp_field: str | None = None
    service: str | type[SyncService] | None = None
    max_batch_size: int | None = None
    max_page_size: int | None = None
    throttle_rates: Mapping[str, str | None] | None = None

    def option(self, name: str) -> str:
        return f"MOBILE_SYNC['DOMAINS'][{self.name!r}].{name}"

    # -- resolved parts -------------------------------------------------------------------
    @cached_property
    def model_class(self) -> type[Model]:
        from django.apps import apps

        try:
            return apps.get_model(self.model)
        except (LookupError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"{self.option('model')}: unknown model {self.model!r} "
                "(use 'app_label.ModelName' of an installed app)."
            ) from exc

    @cached_property
    def wire_fields(self) -> list[str]:
        """Model fields a device sees, in declaration order."""
        if self.fields == "__all__":
            skip = SYSTEM_FIELDS | set(self.tenant_fields)
            return [
                f.name
                for f in self.model_class._meta.concrete_fields
                if f.name not in skip and not f.primary_key
            ]
        return list(self.fields)

    @cached_property
    def read_only_fields(self) -> frozenset[str]:
        """Fields never taken from a device: tenant, server-owned and history fields."""
        owned = set(self.tenant_fields) | set(self.server_owned_fields)
        if self.history_field:
            owned.add(self.history_field)
        return frozenset(owned)

    @cached_property
    def serializer_class(self) -> type[Serializer]:
        if self.serializer is not None:
            return import_from_setting(self.serializer, self.option("serializer"))
        from .serializers import build_model_serializer

        return build_model_serializer(self)

    @cached_property
    def resolver_instance(self) -> ConflictResolver:
        from .resolvers import get_resolver

        value = self.resolver or sync_settings.DEFAULT_RESOLVER
        return get_resolver(value, self.option("resolver"))

    @cached_property
    def service_class(self) -> type[SyncService]:
        value = self.service or sync_settings.DEFAULT_SERVICE_CLASS
        return import_from_setting(value, self.option("service"))

    @cached_property
    def scope_callable(self) -> Callable[[Request], Mapping[str, Any]] | None:
        if self.scope is None:
            return None
        return import_from_setting(self.scope, self.option("scope"))

    @cached_property
    def database_callable(self) -> Callable[[Request], str] | None:
        if self.database is None:
            return None
        return import_from_setting(self.database, self.option("database"))

    @property
    def batch_limit(self) -> int:
        return int(self.max_batch_size or sync_settings.MAX_BATCH_SIZE)

    @property
    def page_limit(self) -> int:
        return int(self.max_page_size or sync_settings.MAX_PAGE_SIZE)

    @cached_property
    def states(self) -> frozenset[str]:
        """Every state named by ``transitions`` (as a source or a target)."""
        states: set[str] = set()
        for source, targets in (self.transitions or {}).items():
            states.add(source)
            states.update(targets)
        return frozenset(states)

    def can_transition(self, old: Any, new: Any) -> bool:
        return old == new or new in (self.transitions or {}).get(old, ())

    # -- validation (used by system checks) ----------------------------------------------
    def problems(self) -> list[tuple[str, str]]:
        """Every misconfiguration of this domain as ``(check id, message)`` pairs."""
        found: list[tuple[str, str]] = []
        if not NAME_RE.match(self.name or ""):
            found.append(
                (
                    "E002",
                    f"{self.option('name')}: {self.name!r} is not a URL segment "
                    "(lowercase letters, digits, '-' and '_').",
                )
            )
        try:
            model = self.model_class
        except ImproperlyConfigured as exc:
            return [*found, ("E003", str(exc))]
        from .models import SyncableModelMixin

        if not issubclass(model, SyncableModelMixin):
            found.append(
                (
                    "E004",
                    f"{self.option('model')}: {self.model} does not inherit "
                    "SyncableModelMixin; add the mixin to the model.",
                )
            )
            return found

        def check_field(option: str, name: str | None) -> None:
            if name is None:
                return
            try:
                model._meta.get_field(name)
            except FieldDoesNotExist:
                found.append(
                    ("E005", f"{self.option(option)}: {model.__name__} has no field {name!r}.")
                )

        for name in self.wire_fields:
            check_field("fields", name)
        for option in ("tenant_fields", "server_owned_fields"):
            for name in getattr(self, option):
                check_field(option, name)
        for option in ("status_field", "history_field", "client_timestamp_field"):
            check_field(option, getattr(self, option))
        for option in ("serializer", "resolver", "service", "scope", "database"):
            try:
                getattr(
                    self,
                    {
                        "serializer": "serializer_class",
                        "resolver": "resolver_instance",
                        "service": "service_class",
                        "scope": "scope_callable",
                        "database": "database_callable",
                    }[option],
                )
            except (ImproperlyConfigured, ImportError, TypeError, ValueError) as exc:
                found.append(("E006", f"{self.option(option)}: {exc}"))
        found.extend(self._transition_problems(model))
        if self.tenant_fields and self.scope is None:
            found.append(
                (
                    "E008",
                    f"{self.option('scope')}: tenant_fields are declared but no "
                    "scope callable says which tenant a request belongs to.",
                )
            )
        reserved = sorted(set(self.filters) & RESERVED_PARAMS)
        if reserved:
            found.append(
                (
                    "E011",
                    f"{self.option('filters')}: {', '.join(reserved)} "
                    "are pull parameters of the protocol; rename the filter.",
                )
            )
        if self._uses_last_write_wins() and not self.client_timestamp_field:
            found.append(
                (
                    "E012",
                    f"{self.option('client_timestamp_field')}: the "
                    "last_write_wins resolver compares this field; name it.",
                )
            )
        if not self._has_unique_mobile_id(model):
            together = ", ".join([*self.tenant_fields, "mobile_id"])
            found.append(
                (
                    "E009",
                    f"{self.option('model')}: {model.__name__} needs a unique "
                    f"constraint on ({together}) so retries cannot duplicate a "
                    "record; add a UniqueConstraint to Meta.constraints.",
                )
            )
        return found

    def _uses_last_write_wins(self) -> bool:
        from .resolvers import LastWriteWinsResolver

        try:
            return isinstance(self.resolver_instance, LastWriteWinsResolver)
        except ImproperlyConfigured:
            return False

    def _transition_problems(self, model: type[Model]) -> list[tuple[str, str]]:
        if not self.transitions and not self.status_field:
            return []
        if not (self.transitions and self.status_field):
            return [
                (
                    "E007",
                    f"{self.option('transitions')}: status_field and transitions "
                    "must be declared together.",
                )
            ]
        try:
            status = model._meta.get_field(self.status_field)
        except FieldDoesNotExist:
            return []  # reported by check_field
        choices = {str(value) for value, _ in (getattr(status, "flatchoices", None) or [])}
        unknown = sorted(s for s in self.states if choices and s not in choices)
        if unknown:
            return [
                (
                    "E007",
                    f"{self.option('transitions')}: unknown state(s) "
                    f"{', '.join(unknown)}; {self.status_field} allows "
                    f"{', '.join(sorted(choices))}.",
                )
            ]
        return []

    def _has_unique_mobile_id(self, model: type[Model]) -> bool:
        from django.db.models import UniqueConstraint

        wanted = {*self.tenant_fields, "mobile_id"}
        if getattr(model._meta.get_field("mobile_id"), "unique", False) and not self.tenant_fields:
            return True
        candidates = [
            set(c.fields)
            for c in model._meta.constraints
            if isinstance(c, UniqueConstraint) and c.condition is None
        ]
        candidates += [set(t) for t in model._meta.unique_together]
        return any(c == wanted for c in candidates)


def _as_domain(value: SyncDomain | Mapping[str, Any]) -> SyncDomain:
    if isinstance(value, SyncDomain):
        return value
    if isinstance(value, Mapping):
        return SyncDomain(**value)
    raise ImproperlyConfigured(
        f"MOBILE_SYNC['DOMAINS'] items must be SyncDomain instances or dicts, not {value!r}."
    )


_cache: list[Any] = [None, {}]  # [the DOMAINS list seen last, its domains by name]


def get_domains() -> dict[str, SyncDomain]:
    """Declared domains by name (rebuilt when ``DOMAINS`` changes, so override_settings works)."""
    declared = sync_settings.DOMAINS
    if _cache[0] is not declared:
        _cache[:] = [declared, {d.name: d for d in map(_as_domain, declared)}]
    domains: dict[str, SyncDomain] = _cache[1]
    return domains


def get_domain(name: str) -> SyncDomain | None:
    return get_domains().get(name)
