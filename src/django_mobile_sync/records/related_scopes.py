"""Foreign keys to models that are not synced (a site, a user): the targets a device may name.

Such a field travels as the target's primary key, and a device could name any row of the
target's table: another tenant's site or user. So the serializer's queryset of the field is
narrowed to the request's scope (docs/relations.md):

- by the domain's ``related_scopes`` callable for that field, when it declares one;
- else by the tenant fields the target shares with the domain (``Site.org`` for a domain
  with ``tenant_fields=["org"]``), equal to the request's scope values;
- a domain without tenant fields takes any target.

A scoped domain with neither for a field is check ``E021``; should it run anyway, the field
takes no target at all. A target outside the scope is refused exactly as an unknown id is, with
the ``unknown_reference`` code, so nothing tells a device that another tenant holds that id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet
from rest_framework.relations import ManyRelatedField, RelatedField

from .relations import is_synced

if TYPE_CHECKING:
    from rest_framework.request import Request

    from ..domains import SyncDomain


class ScopedRequest(Protocol):
    """What narrowing a field needs of a request's service: its domain and tenant scope."""

    @property
    def domain(self) -> SyncDomain: ...

    @property
    def scope(self) -> Mapping[str, Any]: ...

    @property
    def request(self) -> Request | None: ...


def plain_foreign_keys(domain: SyncDomain) -> dict[str, type[Model]]:
    """Fields a device writes that are foreign keys (or one-to-ones) to models that are not
    synced: ``{field: target model}``."""
    found: dict[str, type[Model]] = {}
    for name in domain.wire_fields:
        if name in domain.read_only_fields:
            continue
        try:
            field = domain.model_class._meta.get_field(name)
        except FieldDoesNotExist:
            continue  # check E005
        target = field.related_model
        if not (field.concrete and (field.many_to_one or field.one_to_one)):
            continue
        if isinstance(target, type) and not is_synced(target):
            found[name] = target
    return found


def shared_tenant_fields(domain: SyncDomain, target: type[Model]) -> list[str]:
    """The domain's tenant fields that ``target`` has too, pointing to the same model."""
    shared = []
    for name in domain.tenant_fields:
        try:
            own = domain.model_class._meta.get_field(name)
            theirs = target._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if theirs.concrete and own.related_model is theirs.related_model:
            shared.append(name)
    return shared


def unscoped_foreign_keys(domain: SyncDomain) -> dict[str, type[Model]]:
    """The foreign keys of a scoped domain that nothing scopes (check ``E021``)."""
    if not domain.tenant_fields:
        return {}
    return {
        name: target
        for name, target in plain_foreign_keys(domain).items()
        if name not in domain.related_scopes and not shared_tenant_fields(domain, target)
    }


def narrow(service: ScopedRequest, name: str, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The rows of ``queryset`` that field ``name`` may name on behalf of ``service``'s
    request."""
    domain = service.domain
    declared = domain.related_scope_callables.get(name)
    if declared is not None:
        return declared(queryset, service.scope, service.request)
    if not domain.tenant_fields:
        return queryset
    shared = shared_tenant_fields(domain, queryset.model)
    if not shared or any(field not in service.scope for field in shared):
        return queryset.none()  # check E021: never let another tenant's row through
    return queryset.filter(**{field: service.scope[field] for field in shared})


def scope_related_fields(fields: Mapping[str, Any], service: ScopedRequest | None) -> set[str]:
    """Narrow the queryset of each writable relational field to a model that is not synced;
    the names of those fields.

    Generated fields and the ones a serializer declares alike (a ``SlugRelatedField`` by
    username is scoped as a primary key is). Without a service (no request: the OpenAPI
    schema, a serializer used on its own) nothing is narrowed.
    """
    scoped = set()
    for name, field in fields.items():
        relation = writable_relation(field)
        # A field that overrides get_queryset() without reading queryset scopes there.
        queryset = getattr(relation, "queryset", None)
        if queryset is None or is_synced(queryset.model):
            continue
        if service is not None:
            relation.queryset = narrow(service, name, queryset.all())
        scoped.add(name)
    return scoped


def writable_relation(field: Any) -> Any:
    """The DRF relational field a device writes through ``field`` (the child of a to-many
    one), or ``None``."""
    relation = field.child_relation if isinstance(field, ManyRelatedField) else field
    if field.read_only or not isinstance(relation, RelatedField):
        return None
    return relation
