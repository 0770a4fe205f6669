from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from django_mobile_sync.files.models import Blob
from django_mobile_sync.files.tenancy import tenant_key
from django_mobile_sync.files.thumbnails import thumbnail

from .models import (
    Attendance,
    BusinessUnit,
    ChecklistStep,
    Client,
    JournalEntry,
    Photo,
    Task,
    Ticket,
    UserProfile,
    WorkOrder,
)


class BusinessUnitInline(admin.TabularInline):
    model = BusinessUnit
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    inlines = [BusinessUnitInline]


@admin.register(BusinessUnit)
class BusinessUnitAdmin(admin.ModelAdmin):
    list_display = ["name", "client", "geofence_radius_m"]
    list_filter = ["client"]
    search_fields = ["name"]


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "client", "bu", "role"]
    list_filter = ["client", "role"]
    raw_id_fields = ["user"]


class SyncedAdmin(admin.ModelAdmin):
    """Admin edits go through ``save()``, so they bump the version and reach devices."""

    readonly_fields = ["mobile_id", "version", "created_at", "updated_at", "change_seq"]
    list_filter = ["client", "bu"]


@admin.register(Task)
class TaskAdmin(SyncedAdmin):
    list_display = ["jobdesc", "jobstatus", "priority", "plandatetime", "bu", "version"]
    list_filter = ["jobstatus", "priority", *SyncedAdmin.list_filter]


def photo_blob(photo: Photo) -> Blob | None:
    """The stored file of a photo, in its tenant; ``None`` until it is uploaded."""
    tenant = tenant_key({"client": photo.client_id, "bu": photo.bu_id})
    return Blob.objects.filter(tenant=tenant, sha256=photo.file).first()


class PhotoInline(admin.TabularInline):
    """A work order's photos, as thumbnails (docs/files.md)."""

    model = Photo
    extra = 0
    fields = ["preview", "caption", "taken_at", "digest"]
    readonly_fields = ["preview", "digest"]
    can_delete = True

    @admin.display(description="photo")
    def preview(self, photo: Photo) -> str:
        blob = photo_blob(photo) if photo.pk else None
        if blob is None:
            return "not uploaded yet"
        url = reverse("admin:field_ops_photo_thumbnail", args=[photo.pk])
        return format_html('<img src="{}" alt="{}" width="160" loading="lazy">', url, photo)

    @admin.display(description="file (sha256)")
    def digest(self, photo: Photo) -> str:
        """The file's digest, shortened so the inline fits the page (the whole in a tooltip)."""
        if not photo.file:
            return "-"
        return format_html('<code title="{}">{}…</code>', photo.file, photo.file[:12])


@admin.register(WorkOrder)
class WorkOrderAdmin(SyncedAdmin):
    list_display = ["description", "status", "priority", "scheduled_start", "bu", "version"]
    list_filter = ["status", *SyncedAdmin.list_filter]
    inlines = [PhotoInline]

    def get_urls(self) -> list[Any]:
        thumb = path(
            "photos/<int:photo_id>/thumbnail/",
            self.admin_site.admin_view(self.photo_thumbnail),
            name="field_ops_photo_thumbnail",
        )
        return [thumb, *super().get_urls()]

    def photo_thumbnail(self, request: HttpRequest, photo_id: int) -> HttpResponse:
        """A photo's thumbnail (a JPEG made by Pillow), for users who may view work orders."""
        if not self.has_view_permission(request):
            raise Http404
        photo = Photo.objects.filter(pk=photo_id).first()
        blob = photo_blob(photo) if photo is not None else None
        image = thumbnail(blob) if blob is not None else None
        if image is None:
            raise Http404("No thumbnail for this photo.")
        response = HttpResponse(image, content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=86400"
        return response


@admin.register(Attendance)
class AttendanceAdmin(SyncedAdmin):
    list_display = ["event", "punched_at", "transport_mode", "bu", "version"]
    list_filter = ["event", *SyncedAdmin.list_filter]


@admin.register(Ticket)
class TicketAdmin(SyncedAdmin):
    list_display = ["ticketdesc", "status", "priority", "is_escalated", "bu", "version"]
    list_filter = ["status", "is_escalated", *SyncedAdmin.list_filter]
    readonly_fields = [*SyncedAdmin.readonly_fields, "ticket_history"]


@admin.register(JournalEntry)
class JournalEntryAdmin(SyncedAdmin):
    list_display = ["entry_date", "title", "mood", "bu", "version"]
    list_filter = ["mood", *SyncedAdmin.list_filter]


@admin.register(ChecklistStep)
class ChecklistStepAdmin(SyncedAdmin):
    list_display = ["label", "work_order", "position", "done", "bu", "version"]
    list_filter = ["done", *SyncedAdmin.list_filter]
