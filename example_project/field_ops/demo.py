"""Demo data: two tenants with users and some records of every domain (``seed_demo``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from django_mobile_sync.serializers import format_timestamp

from .models import (
    Attendance,
    BusinessUnit,
    Client,
    JournalEntry,
    Priority,
    Task,
    Ticket,
    WorkOrder,
)
from .tenants import ensure_user

DEMO_USER = "alice"
NAMESPACE = uuid.UUID("5b0d1c8e-6a0f-4f55-9d7e-3c1f2b7a9e10")

#: (client, business unit, geofence or None, users)
TENANTS: list[tuple[str, str, dict[str, Any] | None, list[str]]] = [
    (
        "Acme Facilities",
        "Downtown Tower",
        {"geofence_latitude": 51.5079, "geofence_longitude": -0.0877, "geofence_radius_m": 300},
        ["alice", "bob"],
    ),
    ("Globex Services", "Harbour Depot", None, ["gina"]),
]


def demo_id(*parts: str) -> uuid.UUID:
    """A stable mobile_id, so seeding twice finds the records of the first run."""
    return uuid.uuid5(NAMESPACE, "/".join(parts))


def _records(today: datetime, centre: tuple[float, float]) -> list[tuple[type[Model], dict]]:
    lat, lon = centre
    hour = timedelta(hours=1)
    return [
        (
            Task,
            {
                "jobdesc": "Inspect fire extinguishers, floors 1-5",
                "plandatetime": today,
                "expirydatetime": today + 4 * hour,
                "gracetime": 30,
                "priority": Priority.HIGH,
                "jobtype": Task.JobType.SCHEDULE,
            },
        ),
        (
            Task,
            {
                "jobdesc": "Read water meters",
                "plandatetime": today + 2 * hour,
                "expirydatetime": today + 3 * hour,
                "jobstatus": Task.Status.INPROGRESS,
                "latitude": lat,
                "longitude": lon,
            },
        ),
        (
            Task,
            {
                "jobdesc": "Replace lobby light bulbs",
                "priority": Priority.LOW,
                "jobtype": Task.JobType.ADHOC,
                "jobstatus": Task.Status.COMPLETED,
            },
        ),
        (
            WorkOrder,
            {
                "description": "Service the chiller on the roof",
                "priority": Priority.HIGH,
                "scheduled_start": today + hour,
                "scheduled_end": today + 5 * hour,
            },
        ),
        (
            WorkOrder,
            {
                "description": "Repaint the car park markings",
                "status": WorkOrder.Status.IN_PROGRESS,
                "scheduled_start": today,
                "scheduled_end": today + 8 * hour,
                "actual_start": today,
            },
        ),
        (
            Attendance,
            {
                "event": Attendance.Event.CHECKIN,
                "punched_at": today,
                "latitude": lat,
                "longitude": lon,
                "transport_mode": Attendance.TransportMode.TRAIN,
            },
        ),
        (
            Attendance,
            {
                "event": Attendance.Event.CHECKOUT,
                "punched_at": today + 8 * hour,
                "latitude": lat,
                "longitude": lon,
                "transport_mode": Attendance.TransportMode.TRAIN,
            },
        ),
        (
            Ticket,
            {
                "ticketdesc": "Air conditioning too cold in meeting room 3",
                "status": Ticket.Status.OPEN,
            },
        ),
        (
            Ticket,
            {
                "ticketdesc": "Lift 2 stuck between floors",
                "priority": Priority.HIGH,
                "status": Ticket.Status.INPROGRESS,
                "is_escalated": True,
                "escalation_level": 2,
            },
        ),
        (
            JournalEntry,
            {
                "entry_date": today.date() - timedelta(days=1),
                "title": "Chiller inspection",
                "body": "Compressor noisy; work order raised for a service.",
                "mood": JournalEntry.Mood.OKAY,
            },
        ),
        (
            JournalEntry,
            {
                "entry_date": today.date(),
                "title": "Quiet morning",
                "body": "Fire extinguishers checked on floors 1-3.",
                "mood": JournalEntry.Mood.GOOD,
            },
        ),
    ]


@transaction.atomic
def seed() -> dict[str, Any]:
    """Create what is missing; records that exist are left as they are (idempotent)."""
    today = datetime.combine(timezone.now().date(), time(8), tzinfo=UTC)
    users: list[tuple[str, str, str]] = []
    created = existing = 0
    for client_name, bu_name, geofence, usernames in TENANTS:
        for username in usernames:
            _, token = ensure_user(username, client_name, bu_name, **(geofence or {}))
            users.append((username, f"{client_name} / {bu_name}", token))
        client = Client.objects.get(name=client_name)
        bu = BusinessUnit.objects.get(client=client, name=bu_name)
        if geofence and not bu.has_geofence:  # the unit existed before (sync_user)
            BusinessUnit.objects.filter(pk=bu.pk).update(**geofence)
            bu.refresh_from_db()
        centre = (bu.geofence_latitude or 53.5461, bu.geofence_longitude or 9.9661)
        for index, (model, fields) in enumerate(_records(today, centre)):
            defaults = dict(fields)
            if model is Ticket:
                defaults["ticket_history"] = [
                    {
                        "at": format_timestamp(today),
                        "version": 1,
                        "user": "seed_demo",
                        "device": "",
                        "changes": {"status": fields["status"]},
                    }
                ]
            _, made = model.all_objects.get_or_create(  # type: ignore[attr-defined]
                client=client,
                bu=bu,
                mobile_id=demo_id(client_name, model.__name__, str(index)),
                defaults=defaults,
            )
            created, existing = created + made, existing + (not made)
    return {"users": users, "created": created, "existing": existing}
