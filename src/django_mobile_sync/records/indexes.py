"""The index a pull needs: the tenant fields, in any order, then ``change_seq``.

A pull filters a tenant's rows, keeps ``change_seq`` below the horizon and reads on from the
cursor's ``(change_seq, pk)``. An index that starts with the tenant fields, then
``change_seq`` (then the primary key) lets each page start where the cursor points. The
``W001`` system check looks for one among the model's declared indexes, ``sync_doctor``
among the table's real ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Model


def serves_pulls(indexed: Sequence[str], tenant: Sequence[str], change_seq: str) -> bool:
    """Whether an index on ``indexed`` (names or columns) starts a pull's range scan."""
    return set(indexed[: len(tenant)]) == set(tenant) and list(
        indexed[len(tenant) : len(tenant) + 1]
    ) == [change_seq]


def recommended_index(model: type[Model], tenant_fields: Sequence[str]) -> str:
    """The ``models.Index(...)`` to add to ``model``'s ``Meta.indexes``."""
    names = [*tenant_fields, "change_seq", model._meta.pk.name]
    fields = ", ".join(f'"{name}"' for name in names)
    return f"models.Index(fields=[{fields}], name=...)"
