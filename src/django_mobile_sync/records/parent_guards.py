"""Deleting a record that is not synced but that synced records point to.

Django's deletion collector handles the children of such a parent with plain SQL: it would
delete synced rows or change them without a new version or ``change_seq``, so devices would
never hear of it. :func:`connect_parent_guards` (run when the app is ready) connects a
``pre_delete`` receiver to every such parent model, which runs before the collector writes:

- ``SET_NULL``, ``SET_DEFAULT``, ``SET(...)``: the synced children are changed first through
  their stamping queryset (the collector's own update then changes nothing), so devices pull
  the change;
- ``CASCADE``: live synced children refuse the delete (``ProtectedError``): delete them
  first, as devices must be told; their tombstones go with the parent, and a
  ``TombstonePurge`` row is recorded for their domains, so a device that has not pulled them
  yet resyncs (``410``) instead of keeping the records.

Synced parents never reach the collector (their delete is a soft delete): :mod:`.relations`
applies their children's ``on_delete``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Max, Model
from django.db.models.signals import pre_delete
from django.utils import timezone

from ..domains import get_domains
from .clock import next_change_seq
from .relations import foreign_keys_to, handler_name, is_synced, set_on_delete

#: ``on_delete`` handlers this module takes over from the collector.
GUARDED = ("CASCADE", "SET_NULL", "SET_DEFAULT", "SET")


def guarded_children(parent: type[Model]) -> list[Any]:
    """Foreign keys of synced models to the non-synced ``parent`` that write children."""
    return [
        field
        for field in foreign_keys_to(parent)
        if is_synced(field.model) and handler_name(field) in GUARDED
    ]


def connect_parent_guards() -> None:
    """Connect :func:`guard_children` to every non-synced model synced records point to."""
    for model in apps.get_models():
        if is_synced(model):
            continue
        if guarded_children(model):
            pre_delete.connect(
                guard_children,
                sender=model,
                weak=False,
                dispatch_uid=f"django_mobile_sync.guard:{model._meta.label}",
            )


def guard_children(sender: type[Model], instance: Model, using: str, **kwargs: Any) -> None:
    """Before ``instance`` is deleted, write its synced children as devices must see it."""
    for field in guarded_children(sender):
        child: Any = field.model
        rows = child.sync_queryset(using).filter(**{field.attname: instance.pk})
        if handler_name(field) != "CASCADE":
            set_on_delete(field, rows)
            continue
        live = rows.filter(deleted=False).count()
        if live:
            raise models.ProtectedError(
                f"Cannot delete {sender._meta.verbose_name} {instance}: {live} live synced "
                f"{child._meta.verbose_name_plural} reference it. Delete them first (devices "
                "are told through tombstones), then delete it.",
                set(),
            )
        record_purge(child, rows, using)


def record_purge(child: Any, tombstones: Any, using: str) -> None:
    """The collector will delete these tombstones: record the purge horizon of their domains."""
    newest = tombstones.aggregate(newest=Max("change_seq"))["newest"]
    if newest is None:
        return
    count = tombstones.count()
    seq = next_change_seq(using)
    # Looked up: the app's models import this package.
    purges: Any = apps.get_model("django_mobile_sync", "TombstonePurge")
    for domain in get_domains().values():
        if domain.model_class is child:
            purges.objects.using(using).create(
                domain=domain.name,
                horizon_seq=newest + 1,
                seq=seq,
                purged_before=timezone.now(),
                purged_count=count,
            )
