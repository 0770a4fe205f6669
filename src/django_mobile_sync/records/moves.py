"""The moves of records between view keys (docs/views.md#cost).

When a write changes a record's view key (its ``assignee``: a task reassigned), the writing
transaction adds one ``ViewMove`` row: the record, its tenant, the key it left and the key it
took, at the write's change clock value. That is all a reassignment costs, whatever the
number of devices: a pull of a user who held the old key reads the moves of their keys after
their cursor and answers removals (``engine/view_pull.py``). Every write path logs them:
``save()``, the queryset's ``update()`` and ``bulk_update()``, and the push's bulk writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.apps import apps
from django.db.models import Model

from .view_keys import key_columns, key_of


def tenant_digest(values: Mapping[str, Any]) -> str:
    """A short digest of tenant field values (``{name: value or model}``): the tenant of a
    move, matched by the pulls of that tenant."""
    parts = sorted(f"{name}={getattr(value, 'pk', value)}" for name, value in values.items())
    return hashlib.sha256("&".join(parts).encode()).hexdigest()[:16]


def move_model() -> Any:
    """The ``ViewMove`` model (looked up: models.py imports this layer)."""
    return apps.get_model("django_mobile_sync", "ViewMove")


def tenant_columns(model: type[Model], tenant: Iterable[str]) -> dict[str, str]:
    """``{field name: attname}`` of the tenant fields ``tenant``."""
    return {name: model._meta.get_field(name).attname for name in tenant}  # type: ignore[union-attr]


def log_moves(
    model: type[Model],
    rows: Iterable[tuple[Any, Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]]],
    seq: int,
    using: str,
) -> int:
    """Log the rows whose key changed: ``(pk, tenant values, old columns, new columns)``."""
    columns = sorted(key_columns(model))
    label = model._meta.label_lower
    moves = [
        move_model()(
            model=label,
            tenant=tenant_digest(tenant),
            record=str(pk),
            old_key=key_of(old.get(column)),
            new_key=key_of(new.get(column)),
            seq=seq,
        )
        for pk, tenant, old, new in rows
        for column in columns
        if column in old and column in new and key_of(old[column]) != key_of(new[column])
    ]
    if moves:
        move_model().objects.using(using).bulk_create(moves)
    return len(moves)


def log_object_moves(
    model: type[Model], objs: Sequence[Any], tenant: Iterable[str], using: str
) -> None:
    """Log the moves of saved objects about to be written (``objs``, loaded under lock,
    carry the values read in ``_loaded_values`` and are stamped with their write's seq)."""
    columns = key_columns(model)
    if not columns or not objs:
        return
    names = tenant_columns(model, tenant)
    by_seq: dict[int, list[Any]] = {}
    for obj in objs:
        loaded = getattr(obj, "_loaded_values", None) or {}
        old = {c: loaded[c] for c in columns if c in loaded}
        new = {c: getattr(obj, c) for c in columns}
        values = {name: getattr(obj, attname) for name, attname in names.items()}
        by_seq.setdefault(obj.change_seq, []).append((obj.pk, values, old, new))
    for seq, rows in by_seq.items():
        log_moves(model, rows, seq, using)
