"""The app's tables: :class:`Blob` (a tenant's file, by digest) and :class:`Upload` (a tus
upload in progress, or finished and kept until it expires)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Blob(models.Model):
    """A file a tenant stores: identical bytes are stored once per tenant.

    ``tenant`` identifies the tenant (a digest of its scope, :mod:`.tenancy`); ``scope`` keeps
    the scope's values, to find the records of the tenant that reference the file.
    """

    tenant = models.CharField(max_length=64)
    scope = models.JSONField(default=dict)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    name = models.CharField(max_length=500, help_text="The file's name in the storage.")
    created_at = models.DateTimeField(auto_now_add=True)
    unreferenced_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When purge_files last found no live record referencing the file.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sha256"], name="mobile_sync_blob_unique")
        ]

    def __str__(self) -> str:
        return f"{self.sha256} ({self.size} bytes)"


class Upload(models.Model):
    """A tus upload: its owner and tenant, the digest it promises, and its parts so far.

    Each ``PATCH`` stores its bytes as one part in the storage (``parts``: ``[offset, size,
    name]``); the last byte assembles them into a :class:`Blob` and deletes them.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tenant = models.CharField(max_length=64)
    scope = models.JSONField(default=dict)
    sha256 = models.CharField(max_length=64)
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    parts = models.JSONField(default=list)
    filename = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    patching_since = models.DateTimeField(
        null=True, blank=True, help_text="A PATCH is storing bytes since then (423 to others)."
    )

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "sha256"], name="mobile_sync_upload_digest"),
            models.Index(fields=["expires_at"], name="mobile_sync_upload_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.sha256} {self.offset}/{self.length}"

    @property
    def complete(self) -> bool:
        return self.completed_at is not None
