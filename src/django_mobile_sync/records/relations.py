"""Foreign keys between synced models: what references what, and what a delete does to them.

A synced record is never deleted for real (it becomes a tombstone), so Django's deletion
collector does not run for it. This module applies the ``on_delete`` of the foreign keys of
synced children itself, through the children's own stamping queryset, so every change reaches
devices (docs/relations.md):

- ``PROTECT``/``RESTRICT``: a parent with live children cannot be deleted
  (:func:`protected_counts`);
- ``CASCADE``: the children become tombstones, and so on down (:func:`apply_on_delete`);
- ``SET_NULL``, ``SET_DEFAULT``, ``SET(...)``: the children change, with a new version.

A model counts as synced when it has ``SyncableModelMixin``'s ``sync_queryset()``; this
module imports no model, so the mixin can import it.

Every writer that locks rows of several synced models locks them in one order, parents
before children (:func:`lock_rank`), so that a push and a delete never wait for each other
in a circle (docs/relations.md, "Deleting a parent while devices write its children").
"""

from __future__ import annotations

import functools
import weakref
from collections import Counter
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Count, Field, Model

if TYPE_CHECKING:
    from ..domains import SyncDomain


def is_synced(model: Any) -> bool:
    """Whether ``model`` is a synced model (has ``SyncableModelMixin``)."""
    return isinstance(model, type) and callable(getattr(model, "sync_queryset", None))


def forward_reference(model: type[Model], name: str) -> type[Model] | None:
    """The synced model ``model.name`` points to, if it is a foreign key to one."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not (field.concrete and (field.many_to_one or field.one_to_one)):
        return None
    related = field.related_model
    return related if isinstance(related, type) and is_synced(related) else None


def references(model: type[Model], names: Iterable[str]) -> dict[str, type[Model]]:
    """``{field name: synced model}`` for the foreign keys among ``names``."""
    found = {}
    for name in names:
        related = forward_reference(model, name)
        if related is not None:
            found[name] = related
    return found


#: :func:`reference_fields` of each domain declaration seen (gone with the declaration).
_reference_fields: weakref.WeakKeyDictionary[SyncDomain, dict[str, type[Model]]] = (
    weakref.WeakKeyDictionary()
)


def reference_fields(domain: SyncDomain) -> dict[str, type[Model]]:
    """The domain's wire fields that are foreign keys to synced models: ``{field: model}``.

    They travel as the referenced record's ``mobile_id`` (docs/relations.md). Computed once
    per declaration: a domain's model and fields never change.
    """
    found = _reference_fields.get(domain)
    if found is None:
        found = references(domain.model_class, domain.wire_fields)
        _reference_fields[domain] = found
    return found


def foreign_keys_to(model: type[Model]) -> list[Field[Any, Any]]:
    """Every foreign key (and one-to-one) that points to ``model``, hidden ones included
    (``related_name="+"``)."""
    found: list[Field[Any, Any]] = []
    for relation in model._meta.get_fields(include_hidden=True):
        if not relation.auto_created or relation.concrete:
            continue
        field = getattr(relation, "field", None)
        if field is not None and field.concrete and (field.many_to_one or field.one_to_one):
            found.append(field)
    return found


def synced_children(model: type[Model]) -> list[Field[Any, Any]]:
    """The foreign keys of synced models that point to ``model``, in :func:`lock_rank` order
    of their models."""
    found = [field for field in foreign_keys_to(model) if is_synced(field.model)]
    return sorted(found, key=lambda field: (lock_rank(field.model), field.name))


def lock_rank(model: type[Model]) -> tuple[int, str]:
    """``model``'s place in the one order every writer locks synced rows in: parents first.

    A topological order of all the synced models of the project (a model after the models
    its foreign keys point to), ties and cycles broken by label. It is global, not computed
    per push: two writers touching different subsets of models still agree on it.
    """
    label = concrete(model)._meta.label
    ranks = parents_first_ranks()
    return ranks.get(label, len(ranks)), label


@functools.cache
def parents_first_ranks() -> dict[str, int]:
    """``{label: rank}`` of every synced model, parents first (see :func:`lock_rank`)."""
    models = sorted(
        {concrete(m) for m in apps.get_models() if is_synced(m)}, key=lambda m: m._meta.label
    )
    parents = {model: parent_models(model) & set(models) for model in models}
    ranks: dict[str, int] = {}
    remaining = list(models)
    while remaining:
        placed = {m for m in models if m._meta.label in ranks}
        chosen = next((m for m in remaining if parents[m] <= placed), remaining[0])
        ranks[chosen._meta.label] = len(ranks)
        remaining.remove(chosen)
    return ranks


def parent_models(model: type[Model]) -> set[type[Model]]:
    """The other synced models ``model``'s foreign keys point to."""
    found = set()
    for field in model._meta.concrete_fields:
        related = field.related_model if field.many_to_one or field.one_to_one else None
        if isinstance(related, type) and is_synced(related):
            parent = concrete(related)
            if parent is not concrete(model):
                found.add(parent)
    return found


def concrete(model: type[Model]) -> type[Model]:
    """The model whose table ``model`` uses (itself, unless it is a proxy)."""
    return model._meta.concrete_model or model


def handler_name(field: Field[Any, Any]) -> str:
    """``"CASCADE"``, ``"PROTECT"``, ``"SET"``... of a foreign key's ``on_delete``."""
    on_delete = field.remote_field.on_delete  # type: ignore[union-attr]
    for name in ("CASCADE", "PROTECT", "RESTRICT", "SET_NULL", "SET_DEFAULT", "DO_NOTHING"):
        if on_delete is getattr(models, name):
            return name
    return "SET" if hasattr(on_delete, "deconstruct") else "OTHER"


def protected_counts(
    model: type[Model],
    pks: Collection[Any],
    using: str,
    leaving: Collection[tuple[type[Model], Any]] = (),
) -> Counter[Any]:
    """Live records that keep each of ``pks`` from being deleted (``PROTECT``, ``RESTRICT``).

    The children the delete would cascade to count with their own protectors, all the way
    down: a grandchild that protects a cascaded child protects the parent too, so the
    delete is refused before anything is written. ``leaving`` holds ``(child model,
    mobile_id)`` of records deleted in the same request; they do not count.
    """
    return _protectors(model, list(pks), using, leaving, set())


def _protectors(
    model: type[Model],
    pks: list[Any],
    using: str,
    leaving: Collection[tuple[type[Model], Any]],
    seen: set[tuple[type[Model], Any]],
) -> Counter[Any]:
    counts: Counter[Any] = Counter()
    seen.update((model, pk) for pk in pks)
    if not pks:
        return counts
    for field in synced_children(model):
        handler = handler_name(field)
        if handler not in ("PROTECT", "RESTRICT", "CASCADE"):
            continue
        child: Any = field.model
        gone = [mobile_id for kind, mobile_id in leaving if kind is child]
        rows = child.sync_queryset(using).filter(**{f"{field.attname}__in": pks})
        rows = rows.filter(deleted=False).exclude(mobile_id__in=gone)
        if handler != "CASCADE":
            for row in rows.values(field.attname).annotate(n=Count("pk")):
                counts[row[field.attname]] += row["n"]
            continue
        parent_of = {
            pk: parent
            for pk, parent in rows.values_list("pk", field.attname)
            if (child, pk) not in seen
        }
        below = _protectors(child, list(parent_of), using, leaving, seen)
        for child_pk, n in below.items():
            counts[parent_of[child_pk]] += n
    return counts


def protected_error(model: type[Model], counts: Counter[Any]) -> models.ProtectedError:
    """Django's ``ProtectedError`` for deleting ``model`` records that live children protect
    (``counts``: from :func:`protected_counts`)."""
    total = sum(counts.values())
    return models.ProtectedError(
        f"Cannot delete {model._meta.verbose_name}: {total} live synced record(s) "
        "reference it with on_delete=PROTECT; delete or move them first.",
        set(),
    )


def apply_on_delete(model: type[Model], pks: Collection[Any], using: str) -> None:
    """Do to the synced children of ``pks`` what their foreign keys' ``on_delete`` says.

    Every change goes through the child's stamping queryset: a new version and
    ``change_seq``, so devices pull it. ``CASCADE`` continues down through the children's
    own children (their ``delete()`` applies this function in turn).

    The caller holds ``FOR UPDATE`` locks on ``pks``, taken before it counted or read any
    child: each statement here reads a snapshot taken after those locks were granted, so it
    sees every child a concurrent push committed while it held its lock on the parent.
    """
    if not pks:
        return
    for field in synced_children(model):
        handler = handler_name(field)
        child: Any = field.model
        rows = child.sync_queryset(using).filter(**{f"{field.attname}__in": list(pks)})
        if handler == "CASCADE":
            rows.filter(deleted=False).delete()
        else:
            set_on_delete(field, rows)


def set_on_delete(field: Field[Any, Any], rows: Any) -> None:
    """What ``SET_NULL``, ``SET_DEFAULT`` or ``SET(...)`` of ``field`` writes to ``rows`` (a
    stamping queryset of its model); nothing for the other handlers."""
    handler = handler_name(field)
    if handler == "SET_NULL":
        rows.update(**{field.name: None})
    elif handler == "SET_DEFAULT":
        rows.update(**{field.name: field.get_default()})
    elif handler == "SET":
        _path, args, _kwargs = field.remote_field.on_delete.deconstruct()  # type: ignore[union-attr]
        value = args[0]() if callable(args[0]) else args[0]
        rows.update(**{field.name: value})
