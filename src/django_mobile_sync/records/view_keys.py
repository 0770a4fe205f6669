"""Views (docs/views.md): who of a tenant sees each record, as a key and a set of keys.

A domain's view gives each record one **view key**: the value of a field of the record, or
of a record it references (``"work_order__assignee"``: a checklist step inherits its work
order's view). A user holds a :class:`KeySet`: the keys they see, or every key. A record is
in a user's view when its key is in their set. The record layer needs the rule to log the
moves of records between keys (:mod:`.moves`); the pull reads a view through :func:`key_q`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import Model, Q

from ..conf import import_from_setting
from ..domains import SyncDomain, get_domains

#: The options of ``SyncDomain(view=...)``.
VIEW_OPTIONS = frozenset({"key", "user", "user_keys", "unassigned", "sees_all", "inherit"})


def key_of(value: Any) -> str | None:
    """A column value (or a user's attribute) as a view key: text, or ``None`` for null."""
    value = getattr(value, "pk", value)
    return None if value is None else str(value)


@dataclass(frozen=True)
class KeySet:
    """The view keys a user sees: ``everything``, or ``keys`` (``None``: a null key)."""

    everything: bool = False
    keys: frozenset[str | None] = frozenset()

    def holds(self, key: str | None) -> bool:
        """Whether a record with ``key`` (as :func:`key_of` gives it) is in the set."""
        return self.everything or key in self.keys

    def union(self, other: KeySet) -> KeySet:
        if self.everything or other.everything:
            return EVERYTHING
        return KeySet(False, self.keys | other.keys)

    def to_wire(self) -> Any:
        """The set as a cursor carries it: ``"*"`` or a sorted list (``None`` first)."""
        if self.everything:
            return "*"
        return sorted(self.keys, key=lambda key: (key is not None, key or ""))

    @classmethod
    def from_wire(cls, value: Any) -> KeySet:
        """The set :meth:`to_wire` wrote; ``ValueError`` for anything else."""
        if value == "*":
            return EVERYTHING
        if not isinstance(value, list) or any(
            key is not None and type(key) is not str for key in value
        ):
            raise ValueError("not a key set")
        return cls(False, frozenset(value))


EVERYTHING = KeySet(everything=True)


@dataclass(frozen=True)
class ViewRule:
    """A domain's view, resolved.

    Attributes:
        path: the record's key as an ORM path from the domain's model.
        owner: the model whose column holds the key (the domain's, or a referenced one's).
        column: that column's attname; its moves are logged (:mod:`.moves`).
        via: the path from the domain's model to ``owner`` (``""``: the model itself).
    """

    path: str
    owner: type[Model]
    column: str
    via: str = ""
    user: str | None = None
    user_keys: Callable[[Any], Iterable[Any]] | None = None
    unassigned: bool = False
    sees_all: Callable[[Any], bool] | None = None

    def keys_for(self, user: Any) -> KeySet:
        """The keys ``user`` sees by this declaration."""
        if user is None or not getattr(user, "is_authenticated", False):
            return KeySet()
        if self.sees_all is not None and self.sees_all(user):
            return EVERYTHING
        keys: set[str | None] = set()
        if self.user is not None and (own := key_of(getattr(user, self.user, None))):
            keys.add(own)
        if self.user_keys is not None:
            keys.update(key for key in map(key_of, self.user_keys(user)) if key is not None)
        if self.unassigned:
            keys.add(None)
        return KeySet(False, frozenset(keys))


def key_q(path: str, keys: KeySet) -> Q:
    """Records whose key (at ``path``) is in ``keys``."""
    if keys.everything:
        return Q()
    named = sorted(key for key in keys.keys if key is not None)
    query = Q(**{f"{path}__in": named}) if named else Q(pk__in=[])
    if None in keys.keys:
        query |= Q(**{f"{path}__isnull": True})
    return query


@functools.cache
def view_rule(domain: SyncDomain) -> ViewRule | None:
    """``domain``'s view resolved, or ``None`` for a tenant-wide domain.

    Raises:
        ImproperlyConfigured: a declaration that does not resolve (system check ``E022``).
    """
    spec = domain.view
    if spec is None:
        return None
    option = domain.option("view")
    if not isinstance(spec, Mapping) or set(spec) - VIEW_OPTIONS:
        raise ImproperlyConfigured(f"{option}: a dict of {', '.join(sorted(VIEW_OPTIONS))}.")
    model = domain.model_class
    if "inherit" in spec:
        parent = parent_domain(domain, model, str(spec["inherit"]))
        rule = view_rule(parent)
        if rule is None:
            raise ImproperlyConfigured(f"{option}: the domain {parent.name!r} has no view.")
        ref = spec["inherit"]
        return replace(
            rule, path=f"{ref}__{rule.path}", via=f"{ref}__{rule.via}" if rule.via else ref
        )
    if not isinstance(spec.get("key"), str):
        raise ImproperlyConfigured(f"{option}: name the record's key field ('key').")
    parts = spec["key"].split("__")
    owner = model
    try:
        for part in parts[:-1]:
            owner = owner._meta.get_field(part).related_model  # type: ignore[assignment]
            if owner is None:
                raise FieldDoesNotExist(part)
        column = owner._meta.get_field(parts[-1]).attname  # type: ignore[union-attr]
    except (FieldDoesNotExist, AttributeError) as exc:
        raise ImproperlyConfigured(f"{option}: no field {spec['key']!r}.") from exc

    def imported(name: str) -> Any:
        return import_from_setting(spec[name], f"{option}[{name!r}]") if name in spec else None

    return ViewRule(
        spec["key"],
        owner,
        column,
        "__".join(parts[:-1]),
        spec.get("user"),
        imported("user_keys"),
        bool(spec.get("unassigned", False)),
        imported("sees_all"),
    )


def parent_domain(domain: SyncDomain, model: type[Model], reference: str) -> SyncDomain:
    """The domain with a view whose model ``model.reference`` points to."""
    option = domain.option("view")
    try:
        target = model._meta.get_field(reference).related_model
    except FieldDoesNotExist as exc:
        raise ImproperlyConfigured(f"{option}: no reference {reference!r}.") from exc
    for other in get_domains().values():
        if other.view is not None and other is not domain and other.model_class is target:
            return other
    raise ImproperlyConfigured(f"{option}: no domain with a view syncs {reference!r}'s model.")


def key_columns(model: type[Model]) -> frozenset[str]:
    """The columns of ``model`` that hold a view key of some domain: their changes are
    logged as moves."""
    try:
        rules = [view_rule(domain) for domain in get_domains().values()]
    except (ImproperlyConfigured, TypeError):  # reported by the system checks
        return frozenset()
    return frozenset(rule.column for rule in rules if rule is not None and rule.owner is model)
