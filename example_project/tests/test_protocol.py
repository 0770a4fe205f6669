"""The sync protocol on each of the five domains, through HTTP with Bearer tokens."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Model

from django_mobile_sync.models import SyncConflict
from field_ops.models import Attendance, JournalEntry, Task, Ticket, UserProfile, WorkOrder
from tests.helpers.devices import PREFIX, Device, new_id


@dataclass
class Case:
    """How to make a valid record of a domain, and which field to edit."""

    model: type[Model]
    fields: dict[str, Any]
    edit: str
    values: tuple[Any, Any]
    stale: str  # what a stale edit answers: "conflict" or the resolver's name


CASES = {
    "activity": Case(
        Task,
        {
            "jobdesc": "Fix the pump",
            "priority": "HIGH",
            "plandatetime": "2030-01-01T08:00:00Z",
            "expirydatetime": "2030-01-01T12:00:00Z",
        },
        "jobdesc",
        ("Fix the pump today", "Fix the pump tomorrow"),
        "conflict",
    ),
    "work-orders": Case(
        WorkOrder,
        {
            "description": "Service the chiller",
            "scheduled_start": "2030-01-01T08:00:00Z",
            "scheduled_end": "2030-01-01T10:00:00Z",
        },
        "description",
        ("Service chiller 1", "Service chiller 2"),
        "conflict",
    ),
    "attendance": Case(
        Attendance,
        {
            "event": "CHECKIN",
            "punched_at": "2030-01-01T08:00:00Z",
            "latitude": 51.5049,
            "longitude": -0.0863,
            "transport_mode": "BUS",
        },
        "transport_mode",
        ("CAR", "BIKE"),
        "server_wins",
    ),
    "helpdesk": Case(
        Ticket,
        {"ticketdesc": "The tap in kitchen 2 leaks", "priority": "LOW"},
        "ticketdesc",
        ("Tap leaks badly", "Tap fixed itself"),
        "merge",
    ),
    "journal": Case(
        JournalEntry,
        {"entry_date": "2025-09-28", "title": "Chiller service", "mood": "GOOD"},
        "title",
        ("Chiller serviced", "Chiller half serviced"),
        "conflict",
    ),
}
domains = pytest.mark.parametrize("domain", list(CASES))


def create(device: Device, domain: str, **fields: Any) -> str:
    mobile_id = new_id()
    kind, item = device.push_one(
        domain, {"mobile_id": mobile_id, **CASES[domain].fields, **fields}
    )
    assert (kind, item["status"]) == ("synced_items", "created"), item
    return mobile_id


@domains
def test_bulk_create(alice: Device, domain: str) -> None:
    case = CASES[domain]
    ids = [new_id() for _ in range(3)]
    response = alice.push(domain, [{"mobile_id": i, **case.fields} for i in ids])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["synced_items"] == [
        {"mobile_id": i, "status": "created", "server_version": 1} for i in ids
    ]
    assert body["conflicts"] == body["errors"] == []
    profile = alice.user.profile
    stored = case.model.objects.filter(mobile_id__in=ids)  # type: ignore[attr-defined]
    assert stored.count() == 3
    assert {(r.client_id, r.bu_id) for r in stored} == {(profile.client_id, profile.bu_id)}


@domains
def test_update_bumps_version(alice: Device, domain: str) -> None:
    case = CASES[domain]
    mobile_id = create(alice, domain)
    kind, item = alice.push_one(
        domain, {"mobile_id": mobile_id, "version": 1, case.edit: case.values[0]}
    )
    assert (kind, item) == (
        "synced_items",
        {"mobile_id": mobile_id, "status": "updated", "server_version": 2},
    )
    record = alice.record(domain, mobile_id)
    assert record is not None
    assert (record["version"], record[case.edit]) == (2, case.values[0])


def colleague_sees(colleague: Device, domain: str) -> None:
    """Punches are seen by their author and supervisors (docs/views.md): a colleague who
    sees another's punches is a supervisor."""
    if domain == "attendance":
        UserProfile.objects.filter(user=colleague.user).update(role="supervisor")


@domains
def test_stale_version(alice: Device, bob: Device, domain: str) -> None:
    """Bob edits version 1 after Alice moved the record to version 2."""
    case = CASES[domain]
    colleague_sees(bob, domain)
    mobile_id = create(alice, domain)
    alice.push_one(domain, {"mobile_id": mobile_id, "version": 1, case.edit: case.values[0]})
    kind, item = bob.push_one(
        domain, {"mobile_id": mobile_id, "version": 1, case.edit: case.values[1]}
    )
    assert item["server_version"] == 2
    assert item["server_data"][case.edit] == case.values[0]
    if case.stale == "conflict":
        assert (kind, item["status"], item["client_version"]) == ("conflicts", "conflict", 1)
        assert "version 2" in item["error_message"]
    else:
        assert (kind, item["status"], item["resolution"]) == (
            "synced_items",
            "resolved",
            case.stale,
        )
    record = alice.record(domain, mobile_id)
    assert record is not None
    assert (record["version"], record[case.edit]) == (2, case.values[0])
    audit = SyncConflict.objects.get(mobile_id=mobile_id)
    assert (audit.domain, audit.user_id, audit.device_id) == (domain, bob.user.pk, "bob-phone")
    assert (audit.client_version, audit.server_version) == (1, 2)


@domains
def test_same_edit_again_is_unchanged_not_a_conflict(alice: Device, domain: str) -> None:
    case = CASES[domain]
    mobile_id = create(alice, domain)
    entry = {"mobile_id": mobile_id, "version": 1, case.edit: case.values[0]}
    alice.push_one(domain, entry)
    kind, item = alice.push_one(domain, entry)  # a retry without an Idempotency-Key
    assert (kind, item["status"], item["server_version"]) == ("synced_items", "unchanged", 2)


@domains
def test_idempotent_retry_replays_the_first_answer(alice: Device, domain: str) -> None:
    entries = [{"mobile_id": new_id(), **CASES[domain].fields}]
    key = new_id()
    first = alice.push(domain, entries, key=key)
    retry = alice.push(domain, entries, key=key)
    assert first.status_code == retry.status_code == 200
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert CASES[domain].model.objects.count() == 1  # type: ignore[attr-defined]
    other = alice.push(domain, [{"mobile_id": new_id(), **CASES[domain].fields}], key=key)
    assert other.status_code == 422, other.content


@domains
def test_delta_pull(alice: Device, bob: Device, domain: str) -> None:
    case = CASES[domain]
    colleague_sees(bob, domain)
    first, second = create(alice, domain), create(alice, domain)
    items, cursor = bob.pull_all(domain)
    assert [i["mobile_id"] for i in items] == [first, second]
    assert all(i["version"] == 1 and i["deleted"] is False for i in items)
    alice.push_one(domain, {"mobile_id": second, "version": 1, case.edit: case.values[0]})
    changed, cursor = bob.pull_all(domain, cursor)
    assert [(i["mobile_id"], i["version"], i[case.edit]) for i in changed] == [
        (second, 2, case.values[0])
    ]
    alice.push_one(domain, {"mobile_id": first, "version": 1, "deleted": True})
    deleted, cursor = bob.pull_all(domain, cursor)
    assert [(i["mobile_id"], i["version"], i["deleted"]) for i in deleted] == [(first, 2, True)]
    assert bob.pull_all(domain, cursor)[0] == []


@domains
def test_tenant_isolation(alice: Device, gina: Device, domain: str) -> None:
    case = CASES[domain]
    mobile_id = create(alice, domain)
    alice_items, alice_cursor = alice.pull_all(domain)
    assert gina.pull_all(domain)[0] == []
    # Gina guesses the mobile_id: she gets her own record; Alice's does not change.
    kind, item = gina.push_one(
        domain, {"mobile_id": mobile_id, "version": 1, **case.fields, case.edit: case.values[1]}
    )
    assert (kind, item["status"]) == ("synced_items", "created")
    kind, item = gina.push_one(domain, {"mobile_id": mobile_id, "version": 1, "deleted": True})
    assert (kind, item["status"]) == ("synced_items", "deleted")
    assert alice.pull_all(domain, alice_cursor)[0] == []
    assert alice.record(domain, mobile_id) == alice_items[0]
    # A cursor of another tenant is refused.
    response = gina.pull(domain, cursor=alice_cursor)
    assert response.status_code == 400, response.content


@domains
def test_unauthenticated_is_401(db: Any, client: Any, domain: str) -> None:
    response = client.post(
        f"/api/v1/sync/{domain}/sync/", {"entries": []}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    bad_token = client.get(
        f"/api/v1/sync/{domain}/changes/", headers={"Authorization": "Bearer not-a-token"}
    )
    assert bad_token.status_code == 401


def test_responses_are_gzipped_when_the_device_accepts_it(alice):
    alice.push("activity", [{"mobile_id": new_id(), "jobdesc": "x" * 150} for _ in range(20)])
    plain = alice.pull("activity")
    zipped = alice.api.get(f"{PREFIX}activity/changes/", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.content))["items"] == plain.json()["items"]


@pytest.mark.parametrize("domain", ["work-orders", "checklist"])
def test_schema_1_apps_must_upgrade_for_work_orders_and_checklist(alice, domain):
    old = {"X-Client-Schema-Version": "1"}
    refused = alice.api.get(f"{PREFIX}{domain}/changes/", headers=old)
    assert refused.status_code == 426
    assert refused.json()["code"] == "upgrade_required"
    assert refused.json()["minimum_schema_version"] == 2
    entries = {"entries": [{"mobile_id": new_id(), "description": "From an old app"}]}
    pushed = alice.api.post(f"{PREFIX}{domain}/sync/", entries, format="json", headers=old)
    assert pushed.status_code == 426
    assert alice.pull_all(domain)[0] == []  # nothing was pushed
    current = alice.api.get(f"{PREFIX}{domain}/changes/", headers={"X-Client-Schema-Version": "2"})
    assert current.status_code == 200
    # The other domains declare no minimum; apps that send no version are not refused.
    assert alice.api.get(f"{PREFIX}activity/changes/", headers=old).status_code == 200
