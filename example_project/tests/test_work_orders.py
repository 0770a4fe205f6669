"""``work-orders``: status machine, window order and the ``status`` pull filter."""

from __future__ import annotations

from typing import Any

import pytest

from field_ops.models import WorkOrder
from tests.helpers.devices import Device, new_id

STATES = [choice.value for choice in WorkOrder.Status]
ALLOWED = {
    ("draft", "in_progress"),
    ("draft", "cancelled"),
    ("in_progress", "completed"),
    ("in_progress", "paused"),
    ("in_progress", "cancelled"),
    ("paused", "in_progress"),
    ("paused", "cancelled"),
    ("completed", "closed"),
}
REFUSED = sorted({(a, b) for a in STATES for b in STATES if a != b} - ALLOWED)


def create_order(device: Device, **fields: Any) -> str:
    mobile_id = new_id()
    kind, item = device.push_one(
        "work-orders", {"mobile_id": mobile_id, "description": "Service the chiller", **fields}
    )
    assert (kind, item["status"]) == ("synced_items", "created"), item
    return mobile_id


def move(device: Device, mobile_id: str, version: int, status: str) -> tuple[str, dict[str, Any]]:
    return device.push_one(
        "work-orders", {"mobile_id": mobile_id, "version": version, "status": status}
    )


@pytest.mark.parametrize(("start", "target"), sorted(ALLOWED))
def test_allowed_transition(alice: Device, start: str, target: str) -> None:
    mobile_id = create_order(alice, status=start)
    kind, item = move(alice, mobile_id, 1, target)
    assert (kind, item["status"], item["server_version"]) == ("synced_items", "updated", 2)


@pytest.mark.parametrize(("start", "target"), REFUSED)
def test_refused_transition(alice: Device, start: str, target: str) -> None:
    mobile_id = create_order(alice, status=start)
    kind, item = move(alice, mobile_id, 1, target)
    assert kind == "errors"
    assert f"from {start} to {target}" in item["error_message"]
    assert WorkOrder.objects.get(mobile_id=mobile_id).status == start


def test_full_life_cycle_with_a_pause(alice: Device) -> None:
    mobile_id = create_order(alice)
    path = ["in_progress", "paused", "in_progress", "completed", "closed"]
    for version, status in enumerate(path, start=1):
        assert move(alice, mobile_id, version, status)[1]["status"] == "updated"
    assert WorkOrder.objects.get(mobile_id=mobile_id).version == len(path) + 1


def test_unknown_status_on_create(alice: Device) -> None:
    kind, item = alice.push_one(
        "work-orders", {"mobile_id": new_id(), "description": "x", "status": "archived"}
    )
    assert kind == "errors" and "status" in item["field_errors"]


def test_description_is_required(alice: Device) -> None:
    kind, item = alice.push_one("work-orders", {"mobile_id": new_id(), "status": "draft"})
    assert kind == "errors" and "description" in item["field_errors"]


@pytest.mark.parametrize(
    ("first", "last"), [("scheduled_start", "scheduled_end"), ("actual_start", "actual_end")]
)
def test_window_must_not_end_before_it_starts(alice: Device, first: str, last: str) -> None:
    kind, item = alice.push_one(
        "work-orders",
        {
            "mobile_id": new_id(),
            "description": "x",
            first: "2030-01-01T10:00:00Z",
            last: "2030-01-01T09:59:59Z",
        },
    )
    assert kind == "errors"
    assert item["field_errors"] == {last: [f"{last} must be at or after {first}."]}
    # The same instant is a valid (empty) window.
    create_order(alice, **{first: "2030-01-01T10:00:00Z", last: "2030-01-01T10:00:00Z"})


def test_window_rule_on_partial_update(alice: Device) -> None:
    mobile_id = create_order(
        alice, scheduled_start="2030-01-01T08:00:00Z", scheduled_end="2030-01-01T10:00:00Z"
    )
    kind, item = alice.push_one(
        "work-orders",
        {"mobile_id": mobile_id, "version": 1, "scheduled_start": "2030-01-01T11:00:00Z"},
    )
    assert kind == "errors" and "scheduled_end" in item["field_errors"]


def test_status_filter(alice: Device) -> None:
    drafts = {create_order(alice), create_order(alice)}
    started = create_order(alice, status="in_progress")
    items, _ = alice.pull_all("work-orders", status="draft")
    assert {i["mobile_id"] for i in items} == drafts
    items, _ = alice.pull_all("work-orders", status="in_progress")
    assert [i["mobile_id"] for i in items] == [started]
    assert alice.pull_all("work-orders", status="closed")[0] == []


def test_watermelondb_ids_name_a_work_order_and_its_checklist(alice: Device) -> None:
    """The models take WatermelonDB's 16-character ids (docs/clients/watermelondb.md#ids),
    kept exactly as sent."""
    order, step = "k3XqP0AbZ9wQ1mNs", "Zq81LmNoPq2RsTuv"
    kind, item = alice.push_one(
        "checklist", {"mobile_id": step, "work_order": order, "label": "x"}
    )
    assert (kind, item["error_message"]) == (
        "errors",
        "work_order: No record with this id exists in your scope.",
    )
    kind, item = alice.push_one("work-orders", {"mobile_id": order, "description": "Chiller"})
    assert (kind, item["mobile_id"], item["status"]) == ("synced_items", order, "created")
    kind, item = alice.push_one(
        "checklist", {"mobile_id": step, "work_order": order, "label": "x"}
    )
    assert (kind, item["status"]) == ("synced_items", "created")
    pulled = alice.record("checklist", step)
    assert pulled is not None and pulled["work_order"] == order
    kind, item = alice.push_one(
        "checklist", {"mobile_id": step.lower(), "work_order": order.lower()}
    )
    assert item["error_message"] == "work_order: No record with this id exists in your scope."
