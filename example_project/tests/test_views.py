"""The example's views (docs/views.md): assignees, roles, steps that follow their work
order, private punches; roles set by ``manage.py sync_user --role``."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from django_mobile_sync.live.models import AccessChange
from field_ops.models import UserProfile, WorkOrder
from tests.helpers.devices import Device, new_id

PUNCH = {"event": "CHECKIN", "punched_at": "2030-01-01T08:00:00Z"}
PUNCH |= {"latitude": 51.5049, "longitude": -0.0863}


@pytest.fixture
def boss(make_device: Any) -> Device:
    device = make_device("boss")
    UserProfile.objects.filter(user=device.user).update(role="supervisor")
    return device


def work_order(device: Device, assignee: str | None, steps: int = 2) -> tuple[str, list[str]]:
    order = new_id()
    ids = [new_id() for _ in range(steps)]
    _, item = device.push_one(
        "work-orders", {"mobile_id": order, "description": "Chiller", "assignee": assignee}
    )
    assert item["status"] == "created", item
    entries = [{"mobile_id": s, "work_order": order, "label": "step"} for s in ids]
    assert not device.push("checklist", entries).json()["errors"]
    return order, ids


def assign(device: Device, order: str, to: str | None) -> tuple[str, dict[str, Any]]:
    version = WorkOrder.all_objects.get(mobile_id=order).version
    return device.push_one("work-orders", {"mobile_id": order, "version": version, "assignee": to})


def test_reassignment_moves_the_work_order_and_its_steps(
    alice: Device, bob: Device, boss: Device
) -> None:
    order, steps = work_order(boss, "alice")
    alice_orders, alice_wo = alice.pull_all("work-orders")
    alice_steps, alice_cl = alice.pull_all("checklist")
    assert [i["mobile_id"] for i in alice_orders] == [order]
    assert sorted(i["mobile_id"] for i in alice_steps) == sorted(steps)
    _, bob_wo = bob.pull_all("work-orders")
    _, bob_cl = bob.pull_all("checklist")

    assert assign(boss, order, "bob")[1]["status"] == "updated"
    [removed], _ = alice.pull_all("work-orders", alice_wo)
    assert removed["removed"] is True and removed["mobile_id"] == order
    gone, _ = alice.pull_all("checklist", alice_cl)
    assert sorted(i["mobile_id"] for i in gone) == sorted(steps)
    assert all(i["removed"] for i in gone)
    [arrived], _ = bob.pull_all("work-orders", bob_wo)
    assert (arrived["mobile_id"], arrived["assignee"], arrived["description"]) == (
        order,
        "bob",
        "Chiller",
    )
    came, _ = bob.pull_all("checklist", bob_cl)
    assert sorted(i["mobile_id"] for i in came) == sorted(steps)
    assert all(i["label"] == "step" for i in came)

    # Alice, offline, finishes the step she no longer sees: out_of_view, nothing changes.
    kind, item = alice.push_one("checklist", {"mobile_id": steps[0], "version": 1, "done": True})
    assert (kind, item["code"]) == ("errors", "out_of_view")


def test_a_worker_assigns_only_to_themselves(alice: Device, bob: Device, boss: Device) -> None:
    task = new_id()
    kind, item = alice.push_one("activity", {"mobile_id": task, "jobdesc": "x", "assignee": "bob"})
    assert (kind, item["code"]) == ("errors", "not_permitted")
    assert "assignee" in item["field_errors"]
    kind, item = alice.push_one(
        "activity", {"mobile_id": task, "jobdesc": "x", "assignee": "alice"}
    )
    assert item["status"] == "created"
    work_order(boss, "bob", steps=0)  # a supervisor assigns to anyone


def test_an_unknown_or_foreign_username_is_an_unknown_reference(
    alice: Device, boss: Device, gina: Device
) -> None:
    answers = []
    for name in ("nobody", "gina"):
        kind, item = boss.push_one(
            "activity", {"mobile_id": new_id(), "jobdesc": "x", "assignee": name}
        )
        assert (kind, item["code"]) == ("errors", "unknown_reference")
        answers.append(item["field_errors"]["assignee"])
    assert answers[0] == answers[1]  # worded alike: nothing says gina exists


def test_punches_are_private_to_their_author_and_supervisors(
    alice: Device, bob: Device, boss: Device
) -> None:
    punch = {"mobile_id": new_id(), **PUNCH}
    assert alice.push_one("attendance", punch)[1]["status"] == "created"
    [mine], _ = alice.pull_all("attendance")
    assert mine["author"] == "alice"
    assert bob.pull_all("attendance")[0] == []
    [seen], _ = boss.pull_all("attendance")
    assert seen["mobile_id"] == punch["mobile_id"]
    # The author is server-owned: a device cannot claim another's punch.
    forged = {"mobile_id": new_id(), **PUNCH, "author": "bob"}
    bob.push_one("attendance", forged)
    [own], _ = bob.pull_all("attendance")
    assert own["author"] == "bob"


def test_sync_user_role_changes_what_the_devices_hold(alice: Device, boss: Device) -> None:
    order, _ = work_order(boss, "boss")
    items, cursor = alice.pull_all("work-orders")
    assert items == []
    out = StringIO()
    call_command(
        "sync_user", "alice", "--client", "Acme Facilities", "--bu", "Downtown Tower",
        "--role", "supervisor", stdout=out,
    )  # fmt: skip
    assert "worker -> supervisor" in out.getvalue()
    [arrived], cursor = alice.pull_all("work-orders", cursor)
    assert arrived["mobile_id"] == order and not arrived["deleted"]
    call_command(
        "sync_user", "alice", "--client", "Acme Facilities", "--bu", "Downtown Tower",
        "--role", "worker", stdout=StringIO(),
    )  # fmt: skip
    [removed], _ = alice.pull_all("work-orders", cursor)
    assert removed["removed"] is True


def test_a_change_of_role_or_tenant_records_an_access_change_for_the_streams(
    alice: Device, admin_client: Any
) -> None:
    """``UserProfile.save()`` calls ``access_changed()`` (docs/live.md#access-changes) when
    the role or the tenant changes, whoever saves it (``sync_user``, the admin form); a save
    that changes neither records nothing. Served streams are tested in test_live_stream.py."""
    profile = alice.user.profile
    changes = AccessChange.objects.filter(user_key=str(alice.user.pk))
    profile.save()
    assert not changes.exists()
    form = {
        "user": alice.user.pk,
        "client": profile.client_id,
        "bu": profile.bu_id,
        "role": "supervisor",
    }
    answer = admin_client.post(f"/admin/field_ops/userprofile/{profile.pk}/change/", form)
    assert answer.status_code == 302, answer.content
    assert changes.count() == 1 and changes.get().domains == ""
    call_command(
        "sync_user", "alice", "--client", "Acme Facilities", "--bu", "Harbour", "--create",
        stdout=StringIO(),
    )  # fmt: skip
    assert changes.count() == 2


def test_another_users_cursor_is_a_400(alice: Device, bob: Device) -> None:
    _, cursor = bob.pull_all("activity")
    answer = alice.pull("activity", cursor=cursor)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_cursor"
