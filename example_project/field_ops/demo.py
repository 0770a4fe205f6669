"""Demo data: two tenants with users and some records of every domain (``seed_demo``)."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from django_mobile_sync.files.completion import store_file
from django_mobile_sync.serializers import format_timestamp

from .models import (
    Attendance,
    BusinessUnit,
    ChecklistStep,
    Client,
    JournalEntry,
    Photo,
    Priority,
    Task,
    Ticket,
    WorkOrder,
)
from .tenants import ensure_user

DEMO_USER = "alice"
#: The demo admin login (for local demos only: the example binds 127.0.0.1 by default).
DEMO_ADMIN = ("admin", "admin")
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


def demo_admin(using: str = "default", *, create: bool = False) -> tuple[str, str | None] | None:
    """The demo superuser's username, and its password while that is still the demo one
    (None once someone changed it: it is never reset). None without such a user, unless
    ``create`` makes it."""
    username, password = DEMO_ADMIN
    user_model = get_user_model()
    users = user_model._default_manager.db_manager(using)
    user = users.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        if not create:
            return None
        user = users.create_superuser(  # type: ignore[attr-defined]
            **{user_model.USERNAME_FIELD: username}, email="", password=password
        )
    return username, password if user.check_password(password) else None


def login_text(username: str, password: str | None) -> str:
    """How to sign in to the admin, for ``seed_demo`` and ``try_it`` to print."""
    if password is None:
        return (
            f"user {username!r} with the password you gave it "
            f"(manage.py changepassword {username} sets a new one)"
        )
    return f"user {username!r}, password {password!r} (for local demos only)"


#: The checklist of the first demo work order ("Service the chiller on the roof").
STEPS = ["Isolate the power supply", "Check the refrigerant pressure", "Clean the condenser"]


def _seed_steps(client_name: str, client: Client, bu: BusinessUnit, using: str) -> int:
    """The demo work order's checklist steps; how many were created."""
    work_order = WorkOrder.all_objects.db_manager(using).get(  # type: ignore[attr-defined]
        client=client, bu=bu, mobile_id=demo_id(client_name, "WorkOrder", "3")
    )
    made_count = 0
    for position, label in enumerate(STEPS):
        _, made = ChecklistStep.all_objects.db_manager(using).get_or_create(  # type: ignore[attr-defined]
            client=client,
            bu=bu,
            mobile_id=demo_id(client_name, "ChecklistStep", str(position)),
            defaults={"work_order": work_order, "label": label, "position": position},
        )
        made_count += made
    return made_count


def demo_png(
    width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (40, 110, 160)
) -> bytes:
    """A small PNG of one colour (the demo work order's photo), made without Pillow."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _seed_photo(client_name: str, client: Client, bu: BusinessUnit, using: str) -> int:
    """The demo work order's photo, its bytes stored; 1 if it was created."""
    work_order = WorkOrder.all_objects.db_manager(using).get(  # type: ignore[attr-defined]
        client=client, bu=bu, mobile_id=demo_id(client_name, "WorkOrder", "3")
    )
    image = demo_png()
    blob = store_file({"client": client, "bu": bu}, io.BytesIO(image), "image/png")
    _, made = Photo.all_objects.db_manager(using).get_or_create(  # type: ignore[attr-defined]
        client=client,
        bu=bu,
        mobile_id=demo_id(client_name, "Photo", "0"),
        defaults={"work_order": work_order, "file": blob.sha256, "caption": "The chiller"},
    )
    return int(made)


def seed(using: str = "default") -> dict[str, Any]:
    """Create what is missing; records that exist are left as they are (idempotent)."""
    with transaction.atomic(using=using):
        return _seed(using)


def _seed(using: str) -> dict[str, Any]:
    today = datetime.combine(timezone.now().date(), time(8), tzinfo=UTC)
    users: list[tuple[str, str, str]] = []
    created = existing = 0
    for client_name, bu_name, geofence, usernames in TENANTS:
        for username in usernames:
            _, token = ensure_user(username, client_name, bu_name, using=using, **(geofence or {}))
            users.append((username, f"{client_name} / {bu_name}", token))
        client = Client.objects.using(using).get(name=client_name)
        bu = BusinessUnit.objects.using(using).get(client=client, name=bu_name)
        if geofence and not bu.has_geofence:  # the unit existed before (sync_user)
            BusinessUnit.objects.using(using).filter(pk=bu.pk).update(**geofence)
            bu.refresh_from_db(using=using)
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
            _, made = model.all_objects.db_manager(using).get_or_create(  # type: ignore[attr-defined]
                client=client,
                bu=bu,
                mobile_id=demo_id(client_name, model.__name__, str(index)),
                defaults=defaults,
            )
            created, existing = created + made, existing + (not made)
        made_steps = _seed_steps(client_name, client, bu, using)
        created, existing = created + made_steps, existing + len(STEPS) - made_steps
        made_photo = _seed_photo(client_name, client, bu, using)
        created, existing = created + made_photo, existing + 1 - made_photo
    return {
        "users": users,
        "created": created,
        "existing": existing,
        "admin": demo_admin(using, create=True),
    }
