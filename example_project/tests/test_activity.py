"""``activity``: job status machine, plan/expiry order, GPS ranges, required fields."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.devices import Device, new_id

PLAN, EXPIRY = "2030-01-01T08:00:00Z", "2030-01-01T12:00:00Z"


def create_task(device: Device, **fields: Any) -> str:
    mobile_id = new_id()
    kind, item = device.push_one(
        "activity", {"mobile_id": mobile_id, "jobdesc": "Fix the pump", **fields}
    )
    assert (kind, item["status"]) == ("synced_items", "created"), item
    return mobile_id


def update(
    device: Device, mobile_id: str, version: int, **fields: Any
) -> tuple[str, dict[str, Any]]:
    return device.push_one("activity", {"mobile_id": mobile_id, "version": version, **fields})


def test_new_task_defaults(alice: Device) -> None:
    mobile_id = create_task(alice)
    record = alice.record("activity", mobile_id)
    assert record is not None
    assert {k: record[k] for k in ("jobstatus", "jobtype", "priority", "gracetime")} == {
        "jobstatus": "ASSIGNED",
        "jobtype": "SCHEDULE",
        "priority": "MEDIUM",
        "gracetime": 0,
    }
    assert "client" not in record and "bu" not in record


def test_status_moves_forward(alice: Device) -> None:
    mobile_id = create_task(alice)
    assert update(alice, mobile_id, 1, jobstatus="INPROGRESS")[1]["status"] == "updated"
    assert update(alice, mobile_id, 2, jobstatus="COMPLETED")[1]["status"] == "updated"
    # The same status again is not a transition.
    assert update(alice, mobile_id, 3, jobstatus="COMPLETED")[1]["status"] == "unchanged"


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("ASSIGNED", "COMPLETED"),
        ("INPROGRESS", "ASSIGNED"),
        ("COMPLETED", "INPROGRESS"),
        ("COMPLETED", "ASSIGNED"),
    ],
)
def test_refused_transition_names_both_states(alice: Device, start: str, target: str) -> None:
    mobile_id = create_task(alice, jobstatus=start)
    kind, item = update(alice, mobile_id, 1, jobstatus=target)
    assert kind == "errors"
    assert start in item["error_message"] and target in item["error_message"]
    assert "jobstatus" in item["field_errors"]
    assert alice.record("activity", mobile_id)["jobstatus"] == start  # type: ignore[index]


def test_unknown_status_is_an_error(alice: Device) -> None:
    kind, item = alice.push_one(
        "activity", {"mobile_id": new_id(), "jobdesc": "x", "jobstatus": "DONE"}
    )
    assert kind == "errors"
    assert "jobstatus" in item["field_errors"]


@pytest.mark.parametrize("expiry", ["2030-01-01T07:00:00Z", PLAN])
def test_expiry_must_follow_plan(alice: Device, expiry: str) -> None:
    kind, item = alice.push_one(
        "activity",
        {"mobile_id": new_id(), "jobdesc": "x", "plandatetime": PLAN, "expirydatetime": expiry},
    )
    assert kind == "errors"
    assert item["error_message"] == "expirydatetime must be after plandatetime."
    assert item["field_errors"] == {
        "expirydatetime": ["expirydatetime must be after plandatetime."]
    }


def test_expiry_rule_uses_stored_values_on_partial_updates(alice: Device) -> None:
    mobile_id = create_task(alice, plandatetime=PLAN, expirydatetime=EXPIRY)
    kind, item = update(alice, mobile_id, 1, expirydatetime="2030-01-01T07:59:00Z")
    assert kind == "errors" and "after plandatetime" in item["error_message"]
    kind, item = update(alice, mobile_id, 1, plandatetime="2030-01-01T13:00:00Z")
    assert kind == "errors" and "after plandatetime" in item["error_message"]
    kind, item = update(alice, mobile_id, 1, plandatetime="2030-01-01T09:00:00Z")
    assert (kind, item["status"]) == ("synced_items", "updated")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", 90.5),
        ("latitude", -91),
        ("longitude", 180.01),
        ("longitude", -200),
    ],
)
def test_gps_out_of_range(alice: Device, field: str, value: float) -> None:
    kind, item = alice.push_one("activity", {"mobile_id": new_id(), "jobdesc": "x", field: value})
    assert kind == "errors"
    assert list(item["field_errors"]) == [field]


def test_gps_is_optional_and_edges_are_valid(alice: Device) -> None:
    create_task(alice)
    create_task(alice, latitude=-90, longitude=180)
    create_task(alice, latitude=90, longitude=-180)


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({}, "jobdesc"),
        ({"jobdesc": ""}, "jobdesc"),
        ({"jobdesc": "x" * 201}, "jobdesc"),
        ({"jobdesc": "x", "gracetime": -1}, "gracetime"),
        ({"jobdesc": "x", "priority": "URGENT"}, "priority"),
        ({"jobdesc": "x", "jobtype": "ROUTINE"}, "jobtype"),
    ],
)
def test_field_rules(alice: Device, fields: dict[str, Any], bad: str) -> None:
    kind, item = alice.push_one("activity", {"mobile_id": new_id(), **fields})
    assert kind == "errors"
    assert bad in item["field_errors"]


def test_one_bad_entry_does_not_block_the_batch(alice: Device) -> None:
    good, bad = new_id(), new_id()
    response = alice.push(
        "activity",
        [
            {"mobile_id": good, "jobdesc": "Fine"},
            {"mobile_id": bad, "jobdesc": "Broken", "latitude": 100},
        ],
    )
    body = response.json()
    assert [i["mobile_id"] for i in body["synced_items"]] == [good]
    assert [i["mobile_id"] for i in body["errors"]] == [bad]
