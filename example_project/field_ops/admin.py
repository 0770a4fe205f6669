from __future__ import annotations

from django.contrib import admin

from .models import (
    Attendance,
    BusinessUnit,
    ChecklistStep,
    Client,
    JournalEntry,
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
    list_display = ["user", "client", "bu"]
    list_filter = ["client"]
    raw_id_fields = ["user"]


class SyncedAdmin(admin.ModelAdmin):
    """Admin edits go through ``save()``, so they bump the version and reach devices."""

    readonly_fields = ["mobile_id", "version", "created_at", "updated_at", "change_seq"]
    list_filter = ["client", "bu"]


@admin.register(Task)
class TaskAdmin(SyncedAdmin):
    list_display = ["jobdesc", "jobstatus", "priority", "plandatetime", "bu", "version"]
    list_filter = ["jobstatus", "priority", *SyncedAdmin.list_filter]


@admin.register(WorkOrder)
class WorkOrderAdmin(SyncedAdmin):
    list_display = ["description", "status", "priority", "scheduled_start", "bu", "version"]
    list_filter = ["status", *SyncedAdmin.list_filter]


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
