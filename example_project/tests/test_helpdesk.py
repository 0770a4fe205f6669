"""``helpdesk``: status machine, ticket history, server-owned escalation, merge, filters."""

from __future__ import annotations

from typing import Any

import pytest

from django_mobile_sync.models import SyncConflict
from field_ops.models import Ticket
from tests.helpers.devices import Device, new_id

STATES = [choice.value for choice in Ticket.Status]
ALLOWED = {
    ("NEW", "OPEN"),
    ("OPEN", "INPROGRESS"),
    ("INPROGRESS", "RESOLVED"),
    ("RESOLVED", "CLOSED"),
    ("OPEN", "ONHOLD"),
    ("INPROGRESS", "ONHOLD"),
    ("ONHOLD", "OPEN"),
    ("ONHOLD", "INPROGRESS"),
    ("ONHOLD", "CANCELLED"),
    ("RESOLVED", "OPEN"),
}
REFUSED = sorted({(a, b) for a in STATES for b in STATES if a != b} - ALLOWED)


def create_ticket(device: Device, **fields: Any) -> str:
    mobile_id = new_id()
    kind, item = device.push_one(
        "helpdesk", {"mobile_id": mobile_id, "ticketdesc": "The tap leaks", **fields}
    )
    assert (kind, item["status"]) == ("synced_items", "created"), item
    return mobile_id


def edit(
    device: Device, mobile_id: str, version: int, **fields: Any
) -> tuple[str, dict[str, Any]]:
    return device.push_one("helpdesk", {"mobile_id": mobile_id, "version": version, **fields})


@pytest.mark.parametrize(("start", "target"), sorted(ALLOWED))
def test_allowed_transition(alice: Device, start: str, target: str) -> None:
    mobile_id = create_ticket(alice, status=start)
    kind, item = edit(alice, mobile_id, 1, status=target)
    assert (kind, item["status"]) == ("synced_items", "updated")


@pytest.mark.parametrize(("start", "target"), REFUSED)
def test_refused_transition(alice: Device, start: str, target: str) -> None:
    mobile_id = create_ticket(alice, status=start)
    kind, item = edit(alice, mobile_id, 1, status=target)
    assert kind == "errors"
    assert f"from {start} to {target}" in item["error_message"]


def test_reopen_after_resolution(alice: Device) -> None:
    mobile_id = create_ticket(alice)
    path = [
        "OPEN",
        "INPROGRESS",
        "ONHOLD",
        "INPROGRESS",
        "RESOLVED",
        "OPEN",
        "INPROGRESS",
        "RESOLVED",
        "CLOSED",
    ]
    for version, status in enumerate(path, start=1):
        assert edit(alice, mobile_id, version, status=status)[1]["status"] == "updated"


def test_history_grows_with_every_accepted_change(alice: Device) -> None:
    mobile_id = create_ticket(alice)
    edit(alice, mobile_id, 1, status="OPEN")
    edit(alice, mobile_id, 2, priority="HIGH", ticketdesc="The tap leaks a lot")
    edit(alice, mobile_id, 3, priority="HIGH")  # unchanged: no entry
    edit(alice, mobile_id, 3, status="CLOSED")  # refused: no entry
    record = alice.record("helpdesk", mobile_id)
    assert record is not None
    history = record["ticket_history"]
    assert [entry["version"] for entry in history] == [1, 2, 3]
    assert history[0]["changes"]["ticketdesc"] == "The tap leaks"
    assert history[1]["changes"] == {"status": "OPEN"}
    assert history[2]["changes"] == {"priority": "HIGH", "ticketdesc": "The tap leaks a lot"}
    assert {entry["device"] for entry in history} == {"alice-phone"}
    assert {entry["user"] for entry in history} == {"alice"}  # the user, by name


def test_history_cannot_be_written_by_a_device(alice: Device) -> None:
    mobile_id = create_ticket(alice, ticket_history=[{"forged": True}])
    kind, item = edit(alice, mobile_id, 1, ticket_history=[])
    assert (kind, item["status"]) == ("synced_items", "unchanged")
    history = Ticket.objects.get(mobile_id=mobile_id).ticket_history
    assert len(history) == 1 and "forged" not in history[0]


def test_escalation_is_never_taken_from_a_device(alice: Device) -> None:
    mobile_id = create_ticket(alice, is_escalated=True, escalation_level=3)
    ticket = Ticket.objects.get(mobile_id=mobile_id)
    assert (ticket.is_escalated, ticket.escalation_level) == (False, 0)
    # The server escalates (an admin or a job, through the ORM): devices see it.
    ticket.is_escalated, ticket.escalation_level = True, 2
    ticket.save()
    record = alice.record("helpdesk", mobile_id)
    assert record is not None
    assert (record["version"], record["is_escalated"], record["escalation_level"]) == (2, True, 2)
    # A device trying to de-escalate changes nothing.
    kind, item = edit(alice, mobile_id, 2, is_escalated=False, escalation_level=0)
    assert (kind, item["status"]) == ("synced_items", "unchanged")
    # Nor does a stale edit merged over the escalation.
    kind, item = edit(alice, mobile_id, 1, is_escalated=False, priority="HIGH")
    assert (kind, item["status"]) == ("synced_items", "resolved")
    assert (item["server_data"]["is_escalated"], item["server_data"]["priority"]) == (True, "HIGH")
    ticket.refresh_from_db()
    assert (ticket.is_escalated, ticket.escalation_level, ticket.priority) == (True, 2, "HIGH")


def test_merge_applies_disjoint_edits(alice: Device, bob: Device) -> None:
    mobile_id = create_ticket(alice, priority="LOW")
    edit(alice, mobile_id, 1, priority="HIGH")
    kind, item = edit(bob, mobile_id, 1, ticketdesc="The tap in kitchen 2 leaks")
    assert (kind, item["status"], item["resolution"]) == ("synced_items", "resolved", "merge")
    assert item["server_version"] == 3
    merged = item["server_data"]
    assert (merged["priority"], merged["ticketdesc"]) == ("HIGH", "The tap in kitchen 2 leaks")
    assert alice.record("helpdesk", mobile_id) == merged
    assert SyncConflict.objects.get(mobile_id=mobile_id).resolution == "merge"


def test_merge_keeps_the_server_value_of_a_field_edited_on_both_sides(
    alice: Device, bob: Device
) -> None:
    mobile_id = create_ticket(alice, priority="LOW")
    edit(alice, mobile_id, 1, priority="HIGH")
    kind, item = edit(bob, mobile_id, 1, priority="MEDIUM", ticketdesc="Tap and sink leak")
    assert (kind, item["status"]) == ("synced_items", "resolved")
    ticket = Ticket.objects.get(mobile_id=mobile_id)
    assert (ticket.priority, ticket.ticketdesc, ticket.version) == ("HIGH", "Tap and sink leak", 3)
    assert item["server_data"]["priority"] == "HIGH"


def test_merge_still_checks_transitions(alice: Device, bob: Device) -> None:
    mobile_id = create_ticket(alice)
    edit(alice, mobile_id, 1, priority="HIGH")
    kind, item = edit(bob, mobile_id, 1, status="CLOSED")
    assert kind == "errors"
    assert "from NEW to CLOSED" in item["error_message"]


def test_priority_filter(alice: Device) -> None:
    high = create_ticket(alice, priority="HIGH")
    create_ticket(alice, priority="LOW")
    items, _ = alice.pull_all("helpdesk", priority="HIGH")
    assert [i["mobile_id"] for i in items] == [high]


def test_description_is_required(alice: Device) -> None:
    kind, item = alice.push_one("helpdesk", {"mobile_id": new_id(), "priority": "LOW"})
    assert kind == "errors" and "ticketdesc" in item["field_errors"]
