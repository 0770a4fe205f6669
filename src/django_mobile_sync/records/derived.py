"""Wire fields a model field derives from its value, added to every record a pull sends.

A model field that defines :meth:`DerivingField.pull_annotations` and
:meth:`DerivingField.derived_values` adds fields of its own beside its value on the wire:
a file reference (``django_mobile_sync.files``) adds ``<field>_available``,
``<field>_size`` and ``<field>_content_type``. The pull queryset carries the annotations
(one query for a page); a record read without them (a push answer) asks the field, which may
query. The core knows only this protocol, never the optional app that implements it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from django.db import models

__all__ = [
    "DerivingField",
    "derived_annotations",
    "derived_serializer_fields",
    "derived_values",
    "deriving_fields",
]


@runtime_checkable
class DerivingField(Protocol):
    """A model field that adds wire fields to a record's pull form."""

    name: str

    def pull_annotations(self, scope: Mapping[str, Any]) -> dict[str, Any]:
        """Queryset annotations (name -> expression) :meth:`derived_values` reads, for the
        records of the tenant ``scope`` names."""
        ...

    def derived_values(self, instance: models.Model, scope: Mapping[str, Any]) -> dict[str, Any]:
        """The wire fields this field adds for ``instance`` (a live record)."""
        ...

    def derived_serializer_fields(self) -> dict[str, Any]:
        """Read-only DRF serializer fields that describe those wire fields (OpenAPI)."""
        ...


def deriving_fields(model: type[models.Model]) -> list[DerivingField]:
    """The fields of ``model`` that derive wire fields, in declaration order."""
    return [field for field in model._meta.concrete_fields if isinstance(field, DerivingField)]


def derived_annotations(model: type[models.Model], scope: Mapping[str, Any]) -> dict[str, Any]:
    """Every annotation the deriving fields of ``model`` need for a pull of ``scope``."""
    annotations: dict[str, Any] = {}
    for field in deriving_fields(model):
        annotations.update(field.pull_annotations(scope))
    return annotations


def derived_values(instance: models.Model, scope: Mapping[str, Any]) -> dict[str, Any]:
    """Every wire field the deriving fields of ``instance``'s model add to it."""
    values: dict[str, Any] = {}
    for field in deriving_fields(type(instance)):
        values.update(field.derived_values(instance, scope))
    return values


def derived_serializer_fields(model: type[models.Model]) -> dict[str, Any]:
    """The read-only serializer fields describing what the deriving fields add (OpenAPI)."""
    fields: dict[str, Any] = {}
    for field in deriving_fields(model):
        fields.update(field.derived_serializer_fields())
    return fields
