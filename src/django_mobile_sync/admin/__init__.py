"""Admin for the app's own models: audit log, idempotency records, batch log, purges.

The analytics page lives in :mod:`.analytics`, the re-apply logic in :mod:`.reapply`.
Django's admin autodiscovery imports this package (``django_mobile_sync.admin``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import URLPattern
from django.utils import timezone

from ..domains import SYSTEM_FIELDS, get_domain
from ..models import IdempotencyRecord, SyncBatch, SyncConflict, TombstonePurge
from .analytics import SyncAnalytics, SyncAnalyticsAdmin, analytics_urls
from .reapply import REAPPLIED, ReapplyRefused, reapply_client_version

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Any]
else:
    ModelAdmin = admin.ModelAdmin


class ReadOnlyAdmin(ModelAdmin):
    """Logs are written by the sync service only, and purged by management commands: the
    admin shows them, with no add, change or delete (no "Delete selected" action either)."""

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class DeviceFilter(admin.AllValuesFieldListFilter):
    title = "device"


@admin.register(SyncConflict)
class SyncConflictAdmin(ReadOnlyAdmin):
    # Compact columns: the log fits beside the navigation and filter sidebars of a 1280 px
    # window instead of hiding its last columns in a scrolled box.
    list_display = ["created", "domain", "mobile_id", "resolution", "device", "versions"]
    list_filter = ["domain", "resolution", ("device_id", DeviceFilter), "created_at"]
    search_fields = ["mobile_id", "device_id"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    fields = [
        "created_at",
        "domain",
        "model",
        "mobile_id",
        "user",
        "device_id",
        "client_version",
        "server_version",
        "resolution",
    ]
    actions = ["reapply_client_version"]

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: SyncConflict) -> str:
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="device (user)", ordering="device_id")
    def device(self, obj: SyncConflict) -> str:
        return f"{obj.device_id or '—'} ({obj.user or 'no user'})"

    @admin.display(description="versions")
    def versions(self, obj: SyncConflict) -> str:
        """The version the device's edit was based on → the server's version then."""
        return f"{obj.client_version} → {obj.server_version}"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        conflict = self.get_object(request, object_id)
        if conflict is not None:
            extra_context = {
                **(extra_context or {}),
                "payload_rows": payload_rows(conflict),
                "can_reapply": conflict.resolution != REAPPLIED
                and can_change_record(request, conflict),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Re-apply the device's version as a new server version")
    def reapply_client_version(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for conflict in queryset.order_by("created_at", "pk"):
            if not can_change_record(request, conflict):
                self.message_user(
                    request,
                    f"{conflict}: you may not change {conflict.model} records.",
                    messages.ERROR,
                )
                continue
            try:
                outcome = reapply_client_version(conflict, user=request.user, using=queryset.db)
            except ReapplyRefused as exc:
                self.message_user(request, f"{conflict}: {exc}", messages.ERROR)
                continue
            if outcome.audit is None:
                self.message_user(
                    request,
                    f"{conflict}: the record already holds the device's version.",
                    messages.INFO,
                )
            else:
                audit = outcome.audit
                version = (audit.result_data or {}).get("version")
                self.message_user(
                    request,
                    f"{conflict}: applied {', '.join(outcome.changed)} as version {version}; "
                    "recorded in the audit log.",
                    messages.SUCCESS,
                )


def can_change_record(request: HttpRequest, conflict: SyncConflict) -> bool:
    """Re-applying writes the domain's record: it takes that model's change permission."""
    domain = get_domain(conflict.domain)
    if domain is None:
        return True  # reapply_client_version() refuses it with the reason
    opts = domain.model_class._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")


def payload_rows(conflict: SyncConflict) -> list[dict[str, Any]]:
    """The device's and the server's payloads side by side, one row per field.

    ``differs`` marks the fields the device sent with a value other than the server's.
    """
    client = conflict.client_data if isinstance(conflict.client_data, dict) else {}
    server = conflict.server_data if isinstance(conflict.server_data, dict) else {}
    result = conflict.result_data if isinstance(conflict.result_data, dict) else None
    names = [*server, *(k for k in client if k not in server)]
    rows = []
    for name in names:
        rows.append(
            {
                "name": name,
                "client": _show(client, name),
                "server": _show(server, name),
                "result": _show(result, name) if result is not None else None,
                "differs": name in client
                and name not in SYSTEM_FIELDS
                and client[name] != server.get(name),
            }
        )
    return rows


def _show(data: dict[str, Any] | None, name: str) -> str:
    if data is None or name not in data:
        return "—"
    return json.dumps(data[name], ensure_ascii=False, default=str)


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expired"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Expired (purgeable)"), ("no", "Live")]

    def queryset(self, request: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "no":
            return queryset.filter(expires_at__gt=now)
        return queryset


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
        "expired",
    ]
    list_filter = ["domain", "state", ExpiryFilter]
    search_fields = ["key", "user_key"]
    exclude = ["response_body"]
    date_hierarchy = "created_at"

    @admin.display(boolean=True, description="expired")
    def expired(self, obj: IdempotencyRecord) -> bool:
        return obj.expires_at <= timezone.now()


@admin.register(SyncBatch)
class SyncBatchAdmin(ReadOnlyAdmin):
    # Fits a 1280 px window beside the navigation sidebar and the filters: the applied items'
    # five counts are one column (the non-zero ones; entries = applied + conflicts + errors);
    # every count is on the batch's own page.
    list_display = [
        "when",
        "domain",
        "device",
        "applied",
        "conflicts",
        "errors",
        "duration",
    ]
    list_filter = ["domain", "created_at"]
    list_select_related = ["user"]
    search_fields = ["device_id", "idempotency_key"]
    date_hierarchy = "created_at"

    def get_urls(self) -> list[URLPattern]:
        return [*analytics_urls(self), *super().get_urls()]

    @admin.display(description="at", ordering="created_at")
    def when(self, obj: SyncBatch) -> str:
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="device (user)", ordering="device_id")
    def device(self, obj: SyncBatch) -> str:
        return f"{obj.device_id or '—'} ({obj.user or 'no user'})"

    @admin.display(description="ms", ordering="duration_ms")
    def duration(self, obj: SyncBatch) -> int:
        return obj.duration_ms

    @admin.display(description="applied items")
    def applied(self, obj: SyncBatch) -> str:
        """The non-zero counts among created, updated, deleted, unchanged and resolved."""
        names = ("created", "updated", "deleted", "unchanged", "resolved")
        counts = [(name, getattr(obj, name)) for name in names]
        return ", ".join(f"{count} {name}" for name, count in counts if count) or "none"


@admin.register(TombstonePurge)
class TombstonePurgeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "domain", "horizon_seq", "purged_before", "purged_count"]
    list_filter = ["domain"]


# The analytics page, listed on the site index and the app index like a model.
admin.site.register([SyncAnalytics], SyncAnalyticsAdmin)
