"""``SyncDomain``: the declaration of one synced model, and the registry of declared domains.

A declaration is data: it names its service, resolver, serializer and callables by import
path and imports them when asked; what they decide is the service's hooks
(:mod:`django_mobile_sync.service`). This module imports nothing of the library but its
settings, so settings files can import :class:`SyncDomain`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from .conf import import_from_setting, sync_settings

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet
    from rest_framework.request import Request
    from rest_framework.serializers import Serializer

    from .resolvers import ConflictResolver
    from .service import SyncService

__all__ = [
    "SYSTEM_FIELDS",
    "SyncDomain",
    "as_domain",
    "get_domain",
    "get_domains",
]

#: ``narrow(queryset, scope, request)``: the targets of a foreign key a request may name.
RelatedScope = Callable[["QuerySet[Any]", Mapping[str, Any], "Request | None"], "QuerySet[Any]"]

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
        related_scopes: ``{field: import path}`` of ``narrow(queryset, scope, request) ->
            QuerySet`` for a foreign key in ``fields`` to a model that is not synced (a user):
            the targets a device of that scope may name. Without one, such a field takes the
            targets whose tenant fields equal the scope's (docs/relations.md).
        status_field / transitions: a state machine, ``{state: [reachable states]}``.
        server_owned_fields: fields a device can read but never write.
        filters: pull filters, ``{query parameter: ORM lookup}``.
        history_field: a JSON list field that gets one entry per accepted change.
        client_timestamp_field: field compared by ``last_write_wins``.
        service: import path of a ``SyncService`` subclass.
        max_batch_size / max_page_size: per-domain limits overriding the global ones.
        throttle_rates: per-domain rates (``user``, ``device``, ``pull_user``,
            ``pull_device``) overriding ``MOBILE_SYNC["THROTTLE_RATES"]`` key by key.
        authentication_classes / permission_classes / throttle_classes: DRF classes (or
            import paths) for this domain's views, overriding the ``MOBILE_SYNC`` ones.
        min_client_schema_version: the oldest client schema a device may sync this domain
            with (``X-Client-Schema-Version``); older ones get ``426``. ``None``: any.
        view: which users of the tenant see each record (docs/views.md): ``{"key": path}``
            (the record's view key, maybe through references), ``"user"`` (the user's
            attribute matched against it), ``"user_keys"`` (import path of
            ``keys(user) -> iterable``), ``"unassigned"`` (a null key is seen by all),
            ``"sees_all"`` (import path of ``predicate(user) -> bool``); or
            ``{"inherit": reference}``: the view of the referenced record's domain.
            ``None``: every user of the tenant sees every record.
    """

    name: str
    model: str
    fields: Sequence[str] | str = "__all__"
    serializer: str | type[Serializer[Any]] | None = None
    resolver: str | type[ConflictResolver] | None = None
    tenant_fields: Sequence[str] = ()
    scope: str | Callable[[Request], Mapping[str, Any]] | None = None
    database: str | Callable[[Request], str] | None = None
    related_scopes: Mapping[str, str | RelatedScope] = field(default_factory=dict)
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
    authentication_classes: Sequence[str | type[Any]] | None = None
    permission_classes: Sequence[str | type[Any]] | None = None
    throttle_classes: Sequence[str | type[Any]] | None = None
    min_client_schema_version: int | None = None
    view: Mapping[str, Any] | None = None

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

    @property
    def service_class(self) -> type[SyncService]:
        """The domain's service class, or ``DEFAULT_SERVICE_CLASS`` (read now, not cached)."""
        value = self.service or sync_settings.DEFAULT_SERVICE_CLASS
        service: type[SyncService] = import_from_setting(value, self.option("service"))
        return service

    def api_classes(self, option: str) -> list[type[Any]] | None:
        """The domain's ``authentication_classes``, ``permission_classes`` or
        ``throttle_classes``, imported; ``None`` when it does not set them."""
        value = getattr(self, option)
        if value is None:
            return None
        return [import_from_setting(item, self.option(option)) for item in value]

    @cached_property
    def scope_callable(self) -> Callable[[Request], Mapping[str, Any]] | None:
        if self.scope is None:
            return None
        scope: Callable[[Request], Mapping[str, Any]] = import_from_setting(
            self.scope, self.option("scope")
        )
        return scope

    @cached_property
    def database_callable(self) -> Callable[[Request], str] | None:
        if self.database is None:
            return None
        database: Callable[[Request], str] = import_from_setting(
            self.database, self.option("database")
        )
        return database

    @cached_property
    def related_scope_callables(self) -> dict[str, RelatedScope]:
        """``related_scopes`` imported: ``{field: narrow(queryset, scope, request)}``."""
        option = self.option("related_scopes")
        if not isinstance(self.related_scopes, Mapping):
            raise ImproperlyConfigured(
                f"{option}: must be a dict of {{field: import path}}, not {self.related_scopes!r}."
            )
        return {
            name: import_from_setting(value, f"{option}[{name!r}]")
            for name, value in self.related_scopes.items()
        }

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


def as_domain(value: SyncDomain | Mapping[str, Any], position: int | None = None) -> SyncDomain:
    """A ``DOMAINS`` item as a :class:`SyncDomain`: itself, or a dict of its arguments.

    Raises:
        ImproperlyConfigured: for anything else, or a dict with an unknown key (naming the
            closest option) or without ``name`` or ``model``.
    """
    if isinstance(value, SyncDomain):
        return value
    where = "MOBILE_SYNC['DOMAINS']" + (f"[{position}]" if position is not None else "")
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"{where} must be a SyncDomain or a dict of its arguments, not {value!r}."
        )
    problem = declaration_problem(value)
    if problem is not None:
        name = value.get("name")
        named = f"MOBILE_SYNC['DOMAINS'][{name!r}]" if isinstance(name, str) else where
        raise ImproperlyConfigured(f"{named}: {problem}")
    return SyncDomain(**value)


def declaration_problem(value: Mapping[Any, Any]) -> str | None:
    """What keeps a dict from being ``SyncDomain``'s arguments, or ``None``."""
    options = [f.name for f in dataclasses.fields(SyncDomain)]
    for key in value:
        if key in options:
            continue
        if not isinstance(key, str):
            return f"the key {key!r} is not an option name (a string)."
        close = difflib.get_close_matches(key, options, n=1)
        advice = (
            f"did you mean {close[0]!r}?" if close else f"the options are {', '.join(options)}."
        )
        return f"unknown option {key!r}; {advice}"
    missing = [
        f.name
        for f in dataclasses.fields(SyncDomain)
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in value
    ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        return f"{' and '.join(repr(name) for name in missing)} {verb} required."
    return None


_cache: list[Any] = [None, {}]  # [the DOMAINS list seen last, its domains by name]


def get_domains() -> dict[str, SyncDomain]:
    """Declared domains by name.

    Rebuilt whenever ``MOBILE_SYNC["DOMAINS"]`` is another list (``override_settings``
    works); a domain caches only what its own declaration decides (its model, fields and
    serializer), and reads everything the global settings decide when it is used.
    """
    declared = sync_settings.DOMAINS
    if _cache[0] is not declared:
        built = (as_domain(value, position) for position, value in enumerate(declared))
        _cache[:] = [declared, {d.name: d for d in built}]
    domains: dict[str, SyncDomain] = _cache[1]
    return domains


def get_domain(name: str) -> SyncDomain | None:
    return get_domains().get(name)
