"""``FileReferenceField``: a record's reference to a file, by the file's ``sha256``.

A record may be pushed before its file is uploaded: it pulls with ``<field>_available:
false`` until the upload completes, then moves the cursor (:mod:`.completion`) and pulls
with ``<field>_available: true``, ``<field>_size`` and ``<field>_content_type``
(docs/files.md#file-references-in-records).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.validators import RegexValidator
from django.db import connections, models
from django.db.models import OuterRef, Q, Subquery

from django_mobile_sync.records import any_of

from .tenancy import tenant_key

__all__ = ["SHA256_PATTERN", "FileReferenceField", "file_reference_fields"]

#: A sha256 digest as records and URLs carry it: 64 hex digits, either case.
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"


class FileReferenceField(models.CharField):  # type: ignore[type-arg]
    """The 64-hex ``sha256`` of a file, stored lower-case; adds three wire fields to pulls.

    A ``CharField`` of 64 characters: devices send the digest of the bytes they upload (or
    will upload) to ``{prefix}files/``.
    """

    description = "A file, by its sha256"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["max_length"] = 64
        super().__init__(*args, **kwargs)
        self.validators.append(
            RegexValidator(SHA256_PATTERN, "Enter a sha256 digest: 64 hexadecimal digits.")
        )

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_length", None)
        return name, path, args, kwargs

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value.lower() if isinstance(value, str) else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, str) and value != value.lower():
            value = value.lower()
            setattr(model_instance, self.attname, value)
        return value

    # -- the wire fields a pull adds (django_mobile_sync.records.derived) --------------------
    def pull_annotations(self, scope: Mapping[str, Any]) -> dict[str, Any]:
        from .models import Blob

        blob = Blob.objects.filter(tenant=tenant_key(scope), sha256=OuterRef(self.attname))
        return {
            self._annotation("size"): Subquery(blob.values("size")[:1]),
            self._annotation("content_type"): Subquery(blob.values("content_type")[:1]),
        }

    def derived_values(self, instance: models.Model, scope: Mapping[str, Any]) -> dict[str, Any]:
        size_name = self._annotation("size")
        if hasattr(instance, size_name):
            size = getattr(instance, size_name)
            content_type = getattr(instance, self._annotation("content_type"))
        else:  # not read by a pull (a push answer): one query
            size, content_type = self._lookup(instance, scope)
        available = size is not None
        return {
            f"{self.name}_available": available,
            f"{self.name}_size": size,
            f"{self.name}_content_type": content_type if available else None,
        }

    def derived_serializer_fields(self) -> dict[str, Any]:
        from rest_framework import serializers

        return {
            f"{self.name}_available": serializers.BooleanField(
                read_only=True, help_text=f"Whether the file `{self.name}` names is stored."
            ),
            f"{self.name}_size": serializers.IntegerField(
                read_only=True, allow_null=True, help_text="Its size in bytes, once uploaded."
            ),
            f"{self.name}_content_type": serializers.CharField(
                read_only=True, allow_null=True, help_text="Its content type, once uploaded."
            ),
        }

    # -- what a push holds (django_mobile_sync.records.referents) ---------------------------
    @classmethod
    def hold_referents(cls, values: Sequence[tuple[Mapping[str, Any], Any]], using: str) -> None:
        """Lock the tenants' files these digests name until the push commits, in one
        statement: ``purge_files`` skips a file a push holds, and a push that comes while a
        purge removes one waits for it, then finds it gone (docs/files.md#clean-up).

        PostgreSQL: ``FOR KEY SHARE``, which pushes share and the purge's ``FOR UPDATE``
        conflicts with; Django's ORM cannot write it. SQLite runs one writer at a time:
        nothing to lock. Other databases: ``FOR UPDATE``.
        """
        from .models import Blob

        connection = connections[using]
        if connection.vendor == "sqlite":
            return
        digests: dict[str, set[str]] = {}
        for scope, digest in values:
            digests.setdefault(tenant_key(scope), set()).add(str(digest).lower())
        condition = Q()
        for tenant, named in digests.items():
            condition |= Q(any_of(using, "sha256", sorted(named)), tenant=tenant)
        rows = Blob.objects.using(using).filter(condition).order_by("pk").values_list("pk")
        if connection.vendor != "postgresql":
            list(rows.select_for_update())
            return
        sql, params = rows.query.get_compiler(using=using).as_sql()
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} FOR KEY SHARE", params)

    def _annotation(self, what: str) -> str:
        return f"sync_file_{self.name}_{what}"

    def _lookup(self, instance: models.Model, scope: Mapping[str, Any]) -> tuple[Any, Any]:
        from .models import Blob

        digest = getattr(instance, self.attname)
        if not digest:
            return None, None
        found = (
            Blob.objects.using(instance._state.db or "default")
            .filter(tenant=tenant_key(scope), sha256=str(digest).lower())
            .values_list("size", "content_type")
            .first()
        )
        return found if found is not None else (None, None)


def file_reference_fields(model: type[models.Model]) -> list[FileReferenceField]:
    """The file references of ``model``."""
    return [f for f in model._meta.concrete_fields if isinstance(f, FileReferenceField)]
