"""The files app's tables in the Django admin, read-only: files are written by uploads and
removed by ``purge_files``, never by hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Blob, Upload


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Blob)
class BlobAdmin(ReadOnlyAdmin):
    list_display = ["sha256", "size", "content_type", "created_at", "unreferenced_since"]
    search_fields = ["sha256"]
    list_filter = ["content_type"]


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "sha256", "offset", "length", "expires_at", "completed_at"]
    search_fields = ["sha256", "user__username"]
