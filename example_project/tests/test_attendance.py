"""``attendance``: GPS required and in range, geofence, ``date_from``, server-wins audit."""

from __future__ import annotations

from typing import Any

import pytest

from django_mobile_sync.models import SyncConflict
from field_ops.models import Attendance, BusinessUnit
from tests.helpers.devices import Device, new_id

INSIDE = {"latitude": 51.5055, "longitude": -0.0860}  # ~70 m from the centre
OUTSIDE = {"latitude": 51.5101, "longitude": -0.0917}  # ~700 m away, near Monument


def punch(**fields: Any) -> dict[str, Any]:
    return {
        "mobile_id": new_id(),
        "event": "CHECKIN",
        "punched_at": "2030-01-01T08:00:00Z",
        **INSIDE,
        **fields,
    }


@pytest.mark.parametrize("missing", ["latitude", "longitude", "punched_at", "event"])
def test_required_fields(alice: Device, missing: str) -> None:
    entry = punch()
    del entry[missing]
    kind, item = alice.push_one("attendance", entry)
    assert kind == "errors"
    assert list(item["field_errors"]) == [missing]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", 90.0001),
        ("latitude", -95),
        ("longitude", 181),
        ("longitude", -180.5),
        ("latitude", None),
    ],
)
def test_gps_range(alice: Device, field: str, value: Any) -> None:
    kind, item = alice.push_one("attendance", punch(**{field: value}))
    assert kind == "errors"
    assert field in item["field_errors"]


@pytest.mark.parametrize(("field", "value"), [("event", "LUNCH"), ("transport_mode", "ROCKET")])
def test_choices(alice: Device, field: str, value: str) -> None:
    kind, item = alice.push_one("attendance", punch(**{field: value}))
    assert kind == "errors" and field in item["field_errors"]


def test_without_geofence_anywhere_is_fine(alice: Device) -> None:
    kind, item = alice.push_one("attendance", punch(latitude=-33.86, longitude=151.21))
    assert (kind, item["status"]) == ("synced_items", "created")


def test_geofence(alice: Device, geofence: BusinessUnit) -> None:
    kind, item = alice.push_one("attendance", punch())
    assert (kind, item["status"]) == ("synced_items", "created")
    kind, item = alice.push_one("attendance", punch(**OUTSIDE))
    assert kind == "errors"
    assert "geofence" in item["field_errors"]
    assert "Downtown Tower" in item["error_message"]
    assert "within 300 m" in item["error_message"]
    assert Attendance.objects.count() == 1


def test_geofence_on_partial_update(alice: Device, geofence: BusinessUnit) -> None:
    entry = punch()
    alice.push_one("attendance", entry)
    kind, item = alice.push_one(
        "attendance",
        {"mobile_id": entry["mobile_id"], "version": 1, "latitude": OUTSIDE["latitude"]},
    )
    assert kind == "errors" and "geofence" in item["field_errors"]


def test_geofence_is_per_business_unit(gina: Device, geofence: BusinessUnit) -> None:
    kind, item = gina.push_one("attendance", punch(**OUTSIDE))
    assert (kind, item["status"]) == ("synced_items", "created")


def test_date_from_filter(alice: Device) -> None:
    alice.push(
        "attendance",
        [
            punch(punched_at="2030-01-01T23:59:00Z"),
            punch(punched_at="2030-01-02T00:00:00Z"),
            punch(punched_at="2030-01-03T08:00:00Z"),
        ],
    )
    items, _ = alice.pull_all("attendance", date_from="2030-01-02")
    assert sorted(i["punched_at"] for i in items) == [
        "2030-01-02T00:00:00Z",
        "2030-01-03T08:00:00Z",
    ]
    assert len(alice.pull_all("attendance")[0]) == 3
    assert alice.pull("attendance", date_from="yesterday").status_code == 400


def test_server_wins_is_audited(alice: Device) -> None:
    entry = punch(transport_mode="BUS")
    alice.push_one("attendance", entry)
    mobile_id = entry["mobile_id"]
    alice.push_one("attendance", {"mobile_id": mobile_id, "version": 1, "transport_mode": "CAR"})
    stale = {"mobile_id": mobile_id, "version": 1, "transport_mode": "BIKE", "event": "CHECKOUT"}
    tablet = Device(alice.user, alice.token, "alice-tablet")  # her punch: only she sees it
    kind, item = tablet.push_one("attendance", stale)
    assert (kind, item["status"], item["resolution"]) == (
        "synced_items",
        "resolved",
        "server_wins",
    )
    assert item["server_version"] == 2
    assert (item["server_data"]["transport_mode"], item["server_data"]["event"]) == (
        "CAR",
        "CHECKIN",
    )
    stored = Attendance.objects.get(mobile_id=mobile_id)
    assert (stored.version, stored.transport_mode, stored.event) == (2, "CAR", "CHECKIN")
    audit = SyncConflict.objects.get(mobile_id=mobile_id)
    assert (audit.domain, audit.model, audit.resolution) == (
        "attendance",
        "field_ops.Attendance",
        "server_wins",
    )
    assert (audit.user_id, audit.device_id) == (alice.user.pk, "alice-tablet")
    assert (audit.client_version, audit.server_version) == (1, 2)
    assert audit.client_data["transport_mode"] == "BIKE"
    assert audit.server_data["transport_mode"] == "CAR"
