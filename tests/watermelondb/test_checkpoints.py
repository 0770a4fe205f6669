"""The WatermelonDB ``timestamp`` is a checkpoint: bound exactly to the user and the state
it was served for, and the only thing that makes a device's own writes its own.

A ``timestamp`` of another tenant scope, user, database or epoch is never served
incrementally (a replacement sync; a push carrying it is a ``409``), however its number was
made; the own-writes exemption of a push, and the ``updated`` of a device's own records in
its next pull, follow the checkpoint the device holds, not the ``X-Device-Id`` it sends.
"""

from __future__ import annotations

import io
import itertools
import zlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from django_mobile_sync.engine.cursor import scope_key
from django_mobile_sync.records.clock import read_clock
from django_mobile_sync.watermelondb.models import WatermelonCheckpoint
from tests.helpers.api import make_user, new_id, push
from tests.helpers.watermelon import (
    TABLES,
    change_set,
    ids,
    pull,
    push_changes,
    watermelon_settings,
)
from tests.testapp.models import Member, Org, Task

pytestmark = pytest.mark.usefixtures("uuid_tables")


def edit(task: str, title: str) -> dict[str, Any]:
    return {"tasks": change_set(updated=[{"id": task, "title": title}])}


def move(api: APIClient, user: User, org: Org) -> None:
    """Move ``user`` to ``org``; ``api``'s next requests see the moved user."""
    member = Member.objects.get(user=user)
    member.org = org
    member.save()
    api.force_authenticate(User.objects.get(pk=user.pk))


def tag_of_the_old_timestamp(org_pk: int) -> int:
    """The 13-bit tag the timestamp carried before checkpoints: a CRC of the state."""
    reading = read_clock("default")
    parts = ["default", reading.cluster, str(reading.reset)]
    parts += sorted(
        f"{table}>{domain}@{scope_key({'org': org_pk})}" for table, domain in TABLES.items()
    )
    return 1 + zlib.crc32("|".join(parts).encode()) % (2**13 - 1)


def test_a_user_moved_to_a_unit_whose_tag_collides_gets_every_record_of_it(client, user, org):
    """The reviewer's case: units created until one's tag equals the user's current one."""
    wanted = tag_of_the_old_timestamp(org.pk)
    colliding = next(
        pk for pk in itertools.count(org.pk + 1) if tag_of_the_old_timestamp(pk) == wanted
    )
    unit = Org.objects.create(pk=colliding, name="A unit with the same tag")
    theirs = [str(Task.objects.create(org=unit, title=f"t{i}").mobile_id) for i in range(5)]
    ours = new_id()
    push(client, [{"mobile_id": ours, "title": "ours"}])
    timestamp = pull(client)["timestamp"]

    move(client, user, unit)
    body = pull(client, timestamp)
    assert body.get("experimentalStrategy") == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == sorted(theirs)  # 5 of 5
    refused = push_changes(client, timestamp, edit(theirs[0], "from the old unit's pull"))
    assert refused.status_code == 409
    assert Task.objects.get(mobile_id=theirs[0]).title == "t0"


def test_another_users_timestamp_is_never_served_incrementally(client, client_for, org):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    alices = pull(client)["timestamp"]
    bob = client_for(make_user("bob", org))  # same tenant, same tables: only the user differs

    body = pull(bob, alices)
    assert body.get("experimentalStrategy") == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [task]
    refused = push_changes(bob, alices, edit(task, "bob"))
    assert refused.status_code == 409
    assert Task.objects.get(mobile_id=task).title == "x"
    # Alice's checkpoint is still hers: her next pull is incremental.
    assert "experimentalStrategy" not in pull(client, alices)


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
def test_a_timestamp_of_another_database_is_never_served_incrementally():
    near, far = make_user("near", None), make_user("other-far", None)
    apis = {}
    for user in (near, far):
        apis[user] = APIClient()
        apis[user].force_authenticate(user)
        push(apis[user], [{"mobile_id": new_id(), "text": user.username}], "routed-notes")
    with override_settings(
        MOBILE_SYNC={**watermelon_settings(), "WATERMELON": {"notes": "routed-notes"}}
    ):
        timestamp = pull(apis[near])["timestamp"]
        assert "experimentalStrategy" not in pull(apis[near], timestamp)
        # Even with the same checkpoint row in the other database (a copied table), the
        # state it records names the database it was served from.
        checkpoint = WatermelonCheckpoint.objects.using("default").get(pk=timestamp)
        checkpoint.save(using="other", force_insert=True)
        WatermelonCheckpoint.objects.using("other").filter(pk=timestamp).update(
            user_key=str(far.pk)
        )
        body = pull(apis[far], timestamp)
    assert body.get("experimentalStrategy") == "replacement"
    assert [r["text"] for r in body["changes"]["notes"]["updated"]] == ["other-far"]


def test_a_timestamp_no_checkpoint_has_is_a_replacement_and_a_409(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    timestamp = pull(client)["timestamp"]
    for unknown in (timestamp + 1, 5, 2**53 - 1):
        body = pull(client, unknown)
        assert body.get("experimentalStrategy") == "replacement"
        assert ids(body["changes"]["tasks"]["updated"]) == [task]
        assert push_changes(client, unknown, edit(task, "y")).status_code == 409
    assert Task.objects.get(mobile_id=task).title == "x"


def test_a_checkpoint_whose_position_is_above_the_clock_is_a_replacement(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    timestamp = pull(client)["timestamp"]
    # e.g. a database restored from a backup older than the clock value the row records
    WatermelonCheckpoint.objects.filter(pk=timestamp).update(
        horizon=read_clock("default").clock + 1_000_000
    )
    body = pull(client, timestamp)
    assert body.get("experimentalStrategy") == "replacement"
    assert push_changes(client, timestamp, edit(task, "y")).status_code == 409


def test_timestamps_grow_and_stay_whole_numbers_watermelondb_keeps_exactly(client):
    timestamps = [pull(client)["timestamp"]]
    for i in range(5):
        push(client, [{"mobile_id": new_id(), "title": f"t{i}"}])
        timestamps.append(pull(client, timestamps[-1])["timestamp"])
    assert all(0 < t < 2**53 for t in timestamps)
    assert timestamps == sorted(set(timestamps))  # WatermelonDB logs a smaller one as a bug
    # A replacement sync's timestamp is above the one presented, even a foreign one.
    assert pull(client, 2**52)["timestamp"] > 2**52


def test_a_pull_with_nothing_new_gives_back_the_same_checkpoint(client, client_for, other_user):
    push(client, [{"mobile_id": new_id(), "title": "x"}])
    timestamp = pull(client)["timestamp"]
    # Writes in another tenant move the change clock, not this device's scope.
    push(client_for(other_user), [{"mobile_id": new_id(), "title": "elsewhere"}])
    for _ in range(3):
        assert pull(client, timestamp)["timestamp"] == timestamp
    assert WatermelonCheckpoint.objects.count() == 1


def test_a_device_keeps_at_most_two_checkpoints_and_orphans_are_purged(client):
    first = pull(client)["timestamp"]
    push(client, [{"mobile_id": new_id(), "title": "a"}])
    lost = pull(client, first)["timestamp"]  # the answer never reached the device
    second = pull(client, first)["timestamp"]  # it pulls again with what it has
    assert lost != second
    push(client, [{"mobile_id": new_id(), "title": "b"}])
    third = pull(client, second)["timestamp"]  # presenting `second` frees `first`
    assert set(WatermelonCheckpoint.objects.values_list("pk", flat=True)) == {lost, second, third}
    assert pull(client, first).get("experimentalStrategy") == "replacement"

    old = timezone.now() - timedelta(days=91)
    WatermelonCheckpoint.objects.filter(pk__in=[lost, second]).update(created_at=old)
    out = io.StringIO()
    call_command("purge_watermelon_checkpoints", stdout=out)
    assert "Purged 2 WatermelonDB checkpoint(s)" in out.getvalue()
    assert third in WatermelonCheckpoint.objects.values_list("pk", flat=True)


def test_a_checkpoint_a_day_old_is_renewed_at_the_same_position(client):
    timestamp = pull(client)["timestamp"]
    WatermelonCheckpoint.objects.filter(pk=timestamp).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    renewed = pull(client, timestamp)
    assert "experimentalStrategy" not in renewed and renewed["timestamp"] > timestamp
    old, new = (
        WatermelonCheckpoint.objects.get(pk=timestamp),
        WatermelonCheckpoint.objects.get(pk=renewed["timestamp"]),
    )
    assert new.position == old.position and new.predecessor == timestamp


def test_a_device_borrowing_another_devices_id_cannot_win_with_a_stale_push(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "base"}])
    phone = pull(client, device="phone")["timestamp"]
    tablet = pull(client, device="tablet")["timestamp"]

    # The tablet sends the phone's X-Device-Id (a copied install, a bug, a fixed id).
    assert push_changes(client, tablet, edit(task, "tablet"), device="phone").status_code == 200
    stale = push_changes(client, phone, edit(task, "phone, stale"), device="phone")
    assert stale.status_code == 409
    assert stale.json()["records"] == {"tasks": [task]}
    assert Task.objects.get(mobile_id=task).title == "tablet"  # no lost update


def test_a_devices_own_pushes_with_its_checkpoint_do_not_refuse_its_next_push(client):
    task = new_id()
    timestamp = pull(client, device="phone")["timestamp"]
    other = pull(client, device="tablet")["timestamp"]
    created = {"tasks": change_set(created=[{"id": task, "title": "mine"}])}
    assert push_changes(client, timestamp, created, device="").status_code == 200
    # The next sync's pull could not move past the push (a long transaction elsewhere
    # holding the horizon): the device pushes an edit of its own record with that timestamp.
    assert push_changes(client, other, edit(task, "tablet"), device="phone").status_code == 409
    assert (
        push_changes(client, timestamp, edit(task, "mine, edited"), device="").status_code == 200
    )
    assert Task.objects.get(mobile_id=task).title == "mine, edited"


def test_own_records_come_back_as_updated_by_checkpoint_not_by_device_id(client):
    phone = pull(client, device="phone")["timestamp"]
    tablet = pull(client, device="tablet")["timestamp"]
    mine, theirs = new_id(), new_id()
    created = {"tasks": change_set(created=[{"id": mine, "title": "mine"}])}
    assert push_changes(client, phone, created, device="").status_code == 200
    push(client, [{"mobile_id": theirs, "title": "theirs"}], client_id="another-phone")

    tasks = pull(client, phone, device="")["changes"]["tasks"]  # no X-Device-Id needed
    assert ids(tasks["updated"]) == [mine]
    assert ids(tasks["created"]) == [theirs]
    # The tablet, even sending the phone's id, gets both as new records.
    tasks = pull(client, tablet, device="phone")["changes"]["tasks"]
    assert ids(tasks["created"]) == sorted([mine, theirs])
