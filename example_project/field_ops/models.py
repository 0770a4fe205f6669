"""Tenancy (client, business unit, user profile) and the five synced models."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from django_mobile_sync.files.fields import FileReferenceField
from django_mobile_sync.live import access_changed
from django_mobile_sync.models import SyncableModelMixin, TextMobileIdField

EARTH_RADIUS_M = 6_371_000
LATITUDE_VALIDATORS = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE_VALIDATORS = [MinValueValidator(-180), MaxValueValidator(180)]


class Client(models.Model):
    """A customer of the facility-management company: the top-level tenant."""

    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class BusinessUnit(models.Model):
    """A site of a client; may carry a circular geofence for attendance punches."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="business_units")
    name = models.CharField(max_length=100)
    geofence_latitude = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    geofence_longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    geofence_radius_m = models.PositiveIntegerField(
        null=True, blank=True, help_text="Punches further than this from the centre are refused."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="field_ops_bu_client_name")
        ]

    def __str__(self) -> str:
        return f"{self.client} / {self.name}"

    @property
    def has_geofence(self) -> bool:
        return None not in (
            self.geofence_latitude,
            self.geofence_longitude,
            self.geofence_radius_m,
        )

    def distance_from_centre(self, latitude: float, longitude: float) -> float:
        """Great-circle distance in metres from the geofence centre (haversine)."""
        assert self.geofence_latitude is not None and self.geofence_longitude is not None
        lat1, lat2 = math.radians(self.geofence_latitude), math.radians(latitude)
        dlat = lat2 - lat1
        dlon = math.radians(longitude - self.geofence_longitude)
        a = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


class UserProfile(models.Model):
    """Which client and business unit a user works for: the scope of their devices."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )

    class Role(models.TextChoices):
        WORKER = "worker", "Worker"
        SUPERVISOR = "supervisor", "Supervisor"

    client = models.ForeignKey(Client, on_delete=models.PROTECT)
    bu = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, verbose_name="business unit")
    role = models.CharField(
        max_length=12,
        choices=Role,
        default=Role.WORKER,
        help_text="A worker sees the records assigned to them; a supervisor sees them all.",
    )

    def __str__(self) -> str:
        return f"{self.user} @ {self.bu}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A change of role (``sync_user --role``, the admin) changes what the user sees
        (docs/views.md) though no record changed: ``access_changed()`` pokes their open
        streams (docs/live.md#access-changes), after this transaction commits. So does a
        move to another tenant: their devices pull, and resync."""
        profiles = type(self)._default_manager.using(kwargs.get("using") or self._state.db)
        before = None
        if self.pk is not None:
            before = profiles.filter(pk=self.pk).values_list("role", "client", "bu").first()
        super().save(*args, **kwargs)
        if before is not None and before != (self.role, self.client_id, self.bu_id):
            access_changed(self.user_id)


class Priority(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"


class TenantRecord(SyncableModelMixin):
    """A synced record of one client and business unit.

    Its id is a UUID or a WatermelonDB id (``k3XqP0AbZ9wQ1mNs``): the WatermelonDB app names
    records with its own ids, and a record's id is its ``mobile_id``
    (docs/clients/watermelondb.md#ids).
    """

    mobile_id = TextMobileIdField()
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    bu = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, related_name="+", verbose_name="business unit"
    )

    class Meta:
        abstract = True


def tenant_constraints(name: str) -> list[models.BaseConstraint]:
    """The unique (client, bu, mobile_id) the sync layer upserts on."""
    return [
        models.UniqueConstraint(
            fields=["client", "bu", "mobile_id"], name=f"field_ops_{name}_tenant_mobile_id"
        )
    ]


def tenant_indexes(name: str, view: str | None = None) -> list[models.Index]:
    """Pulls read one tenant's rows in change order, from the cursor's (change_seq, id); a
    worker's pull reads their view key's (docs/views.md)."""
    indexes = [
        models.Index(fields=["client", "bu", "change_seq", "id"], name=f"field_ops_{name}_pull")
    ]
    if view is not None:
        fields = ["client", "bu", view, "change_seq", "id"]
        indexes.append(models.Index(fields=fields, name=f"field_ops_{name}_view"))
    return indexes


def user_reference(help_text: str) -> Any:
    """A user of the tenant, named by username on the wire (docs/views.md)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        to_field="username",
        null=True,
        blank=True,
        default=None,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=help_text,
    )


class Task(TenantRecord):
    """``activity``: a scheduled or ad-hoc job of a field worker."""

    class Status(models.TextChoices):
        ASSIGNED = "ASSIGNED", "Assigned"
        INPROGRESS = "INPROGRESS", "In progress"
        COMPLETED = "COMPLETED", "Completed"

    class JobType(models.TextChoices):
        SCHEDULE = "SCHEDULE", "Scheduled"
        ADHOC = "ADHOC", "Ad hoc"

    jobdesc = models.CharField(max_length=200)
    plandatetime = models.DateTimeField(null=True, blank=True)
    expirydatetime = models.DateTimeField(null=True, blank=True)
    gracetime = models.PositiveIntegerField(
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Minutes of grace after plandatetime.",
    )
    priority = models.CharField(max_length=10, choices=Priority, default=Priority.MEDIUM)
    jobstatus = models.CharField(max_length=12, choices=Status, default=Status.ASSIGNED)
    jobtype = models.CharField(max_length=10, choices=JobType, default=JobType.SCHEDULE)
    latitude = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    assignee = user_reference("The worker who does it; null: unassigned (every worker sees it).")

    class Meta:
        constraints = tenant_constraints("task")
        indexes = tenant_indexes("task", view="assignee")

    def __str__(self) -> str:
        return self.jobdesc


class WorkOrder(TenantRecord):
    """``work-orders``: maintenance work with a planned and an actual window."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_PROGRESS = "in_progress", "In progress"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CLOSED = "closed", "Closed"
        CANCELLED = "cancelled", "Cancelled"

    description = models.TextField()
    status = models.CharField(max_length=12, choices=Status, default=Status.DRAFT)
    priority = models.CharField(max_length=10, choices=Priority, default=Priority.MEDIUM)
    scheduled_start = models.DateTimeField(null=True, blank=True)
    scheduled_end = models.DateTimeField(null=True, blank=True)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    assignee = user_reference("The worker who does it; null: unassigned (every worker sees it).")

    class Meta:
        constraints = tenant_constraints("workorder")
        indexes = tenant_indexes("workorder", view="assignee")

    def __str__(self) -> str:
        return self.description[:50]


class Attendance(TenantRecord):
    """``attendance``: a check-in or check-out punch with its GPS position."""

    class Event(models.TextChoices):
        CHECKIN = "CHECKIN", "Check in"
        CHECKOUT = "CHECKOUT", "Check out"

    class TransportMode(models.TextChoices):
        WALK = "WALK", "Walk"
        BIKE = "BIKE", "Bike"
        CAR = "CAR", "Car"
        BUS = "BUS", "Bus"
        TRAIN = "TRAIN", "Train"

    event = models.CharField(max_length=10, choices=Event)
    punched_at = models.DateTimeField()
    latitude = models.FloatField(validators=LATITUDE_VALIDATORS)
    longitude = models.FloatField(validators=LONGITUDE_VALIDATORS)
    transport_mode = models.CharField(max_length=10, choices=TransportMode, blank=True)
    author = user_reference("Who punched: the user who pushed it (server-owned).")

    class Meta:
        verbose_name_plural = "attendance"
        constraints = tenant_constraints("attendance")
        indexes = tenant_indexes("attendance", view="author")

    def __str__(self) -> str:
        return f"{self.event} at {self.punched_at:%Y-%m-%d %H:%M}"


class Ticket(TenantRecord):
    """``helpdesk``: a support ticket; escalation and history belong to the server."""

    class Status(models.TextChoices):
        NEW = "NEW", "New"
        OPEN = "OPEN", "Open"
        INPROGRESS = "INPROGRESS", "In progress"
        ONHOLD = "ONHOLD", "On hold"
        RESOLVED = "RESOLVED", "Resolved"
        CLOSED = "CLOSED", "Closed"
        CANCELLED = "CANCELLED", "Cancelled"

    ticketdesc = models.TextField()
    status = models.CharField(max_length=12, choices=Status, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority, default=Priority.MEDIUM)
    is_escalated = models.BooleanField(default=False)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    ticket_history = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = tenant_constraints("ticket")
        indexes = tenant_indexes("ticket")

    def __str__(self) -> str:
        return self.ticketdesc[:50]


def not_in_the_future(value: date) -> None:
    """At most tomorrow in UTC: that day has begun somewhere (UTC+14 is a day ahead)."""
    latest = timezone.now().date() + timedelta(days=1)
    if value > latest:
        raise ValidationError(
            f"entry_date {value} is in the future; the latest day you can log is {latest}.",
            code="future_date",
        )


class JournalEntry(TenantRecord):
    """``journal``: a field worker's daily log of a site."""

    class Mood(models.TextChoices):
        GREAT = "GREAT", "Great"
        GOOD = "GOOD", "Good"
        OKAY = "OKAY", "Okay"
        BAD = "BAD", "Bad"

    entry_date = models.DateField(validators=[not_in_the_future])
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    mood = models.CharField(max_length=10, choices=Mood, blank=True, default="")

    class Meta:
        verbose_name_plural = "journal entries"
        constraints = tenant_constraints("journalentry")
        indexes = tenant_indexes("journalentry")

    def __str__(self) -> str:
        return f"{self.entry_date}: {self.title}"


class ChecklistStep(TenantRecord):
    """``checklist``: a step of a work order; deleted with it (its tombstones reach devices)."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="steps")
    label = models.CharField(max_length=200)
    done = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["work_order", "position"]
        constraints = tenant_constraints("checkliststep")
        indexes = tenant_indexes("checkliststep")

    def __str__(self) -> str:
        return self.label


class Photo(TenantRecord):
    """``photos``: a photo of a work order, its bytes uploaded on their own (docs/files.md);
    deleted with the work order (its tombstones reach devices)."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="photos")
    file = FileReferenceField()
    caption = models.CharField(max_length=200, blank=True, default="")
    taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["work_order", "taken_at"]
        constraints = tenant_constraints("photo")
        indexes = tenant_indexes("photo")

    def __str__(self) -> str:
        return self.caption or self.file
