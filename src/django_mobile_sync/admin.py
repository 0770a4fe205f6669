"""Admin for the app's own models: audit log, idempotency records, batch log, purges."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import IdempotencyRecord, SyncBatch, SyncConflict, TombstonePurge


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(SyncConflict)
class SyncConflictAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "domain",
        "mobile_id",
        "resolution",
        "device_id",
        "client_version",
        "server_version",
    ]
    list_filter = ["domain", "resolution", "created_at"]
    search_fields = ["mobile_id", "device_id"]
    date_hierarchy = "created_at"


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "domain",
        "user_key",
        "key",
        "state",
        "response_status",
        "hits",
        "expires_at",
    ]
    list_filter = ["domain", "state"]
    search_fields = ["key", "user_key"]
    exclude = ["response_body"]


@admin.register(SyncBatch)
class SyncBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "domain",
        "user",
        "device_id",
        "entries",
        "created",
        "updated",
        "deleted",
        "unchanged",
        "resolved",
        "conflicts",
        "errors",
        "duration_ms",
    ]
    list_filter = ["domain", "created_at"]
    search_fields = ["device_id", "idempotency_key"]
    date_hierarchy = "created_at"


@admin.register(TombstonePurge)
class TombstonePurgeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "domain", "horizon_seq", "purged_before", "purged_count"]
    list_filter = ["domain"]
