"""Views through HTTP (docs/views.md): removals, backfill, tombstones, out_of_view and the
cursor bound to its user, on the visits domain seen by assignee or by site."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from django_mobile_sync.models import ViewMove
from tests.helpers.api import pull, pull_all, push
from tests.helpers.views import Device, create, reassign
from tests.testapp.models import Org, Site, Visit
from tests.views import access

pytestmark = pytest.mark.usefixtures("assigned")

REMOVAL_KEYS = {"mobile_id", "version", "deleted", "removed", "updated_at"}


def test_a_worker_sees_their_records_and_the_unassigned_ones(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    mine, theirs, nobodys = create(boss, user), create(boss, bob), create(boss, None)
    device = Device(client)
    device.sync()
    assert set(device.held) == {mine, nobodys}
    assert theirs not in {item["mobile_id"] for item in device.last}


def test_reassignment_removes_once_from_the_old_assignee_and_arrives_whole_at_the_new(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    client_for: Callable[[User], APIClient],
) -> None:
    visit = create(boss, user, note="fix the pump")
    alice, bobs = Device(client), Device(client_for(bob))
    alice.sync(), bobs.sync()
    assert visit in alice.held and visit not in bobs.held
    writes = ViewMove.objects.count()
    answer = reassign(boss, visit, bob)
    assert answer.json()["synced_items"][0]["status"] == "updated"
    assert ViewMove.objects.count() == writes + 1  # one row, whatever the devices
    version = Visit.all_objects.get(mobile_id=visit).version

    [removed] = alice.sync()
    assert set(removed) == REMOVAL_KEYS
    assert removed["mobile_id"] == visit and removed["version"] == version
    assert removed["deleted"] is True and removed["removed"] is True
    assert visit not in alice.held

    [arrived] = bobs.sync()
    assert arrived["mobile_id"] == visit and arrived["note"] == "fix the pump"
    assert arrived["version"] == version and arrived["deleted"] is False
    assert arrived["assignee"] == bob.pk
    assert alice.sync() == [] and bobs.sync() == []


def test_a_record_that_comes_back_arrives_whole_without_a_removal(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    visit = create(boss, user)
    alice = Device(client)
    alice.sync()
    reassign(boss, visit, bob)
    reassign(boss, visit, user)
    [item] = alice.sync()
    assert item["mobile_id"] == visit and "removed" not in item and not item["deleted"]


def test_moves_by_save_and_update_reach_the_old_assignee(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    first, second = create(boss, user), create(boss, user)
    alice = Device(client)
    alice.sync()
    record = Visit.objects.get(mobile_id=first)
    record.assignee = bob
    record.save()
    Visit.objects.filter(mobile_id=second).update(assignee=bob)
    items = alice.sync()
    assert sorted(i["mobile_id"] for i in items) == sorted([first, second])
    assert all(i["removed"] for i in items) and alice.held == {}


def test_a_role_change_backfills_then_removes(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    mine = create(boss, user)
    theirs = [create(boss, bob, note=f"old {n}") for n in range(5)]
    alice = Device(client)
    alice.sync()
    assert set(alice.held) == {mine}

    access.SUPERVISORS.add(user.pk)  # promoted: everything, even what has not changed
    items, alice.cursor = pull_all(client, "visits", alice.cursor, limit=2)
    assert sorted(i["mobile_id"] for i in items) == sorted(theirs)  # each once, whole
    assert all(i["note"].startswith("old") and not i["deleted"] for i in items)

    access.SUPERVISORS.discard(user.pk)  # back to a worker: the others' records leave
    items, alice.cursor = pull_all(client, "visits", alice.cursor, limit=2)
    assert sorted(i["mobile_id"] for i in items) == sorted(theirs)
    assert all(i["removed"] for i in items)
    assert pull_all(client, "visits", alice.cursor)[0] == []


def test_site_membership_grows_and_shrinks(
    domain_options: Callable[..., Any], org: Org, client: APIClient, user: User, boss: APIClient
) -> None:
    north, south = Site.objects.create(org=org, name="N"), Site.objects.create(org=org, name="S")
    with domain_options("visits", view=access.BY_SITE):
        access.SITES[user.pk] = {north.pk}
        at_north = [Visit.objects.create(org=org, site=north).mobile_id for _ in range(3)]
        at_south = [Visit.objects.create(org=org, site=south).mobile_id for _ in range(3)]
        alice = Device(client)
        alice.sync()
        assert set(alice.held) == {str(m) for m in at_north}
        access.SITES[user.pk] = {south.pk}  # covers the south, leaves the north
        alice.sync()
        assert set(alice.held) == {str(m) for m in at_south}
        removed = [i["mobile_id"] for i in alice.last if i.get("removed")]
        assert sorted(removed) == sorted(str(m) for m in at_north)
        # A visit moved from the south to the north leaves her too.
        moved = Visit.objects.get(mobile_id=at_south[0])
        moved.site = north
        moved.save()
        [item] = alice.sync()
        assert item["removed"] and item["mobile_id"] == str(at_south[0])


def test_tombstones_reach_only_who_saw_the_record(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    client_for: Callable[[User], APIClient],
) -> None:
    theirs, mine = create(boss, bob), create(boss, user)
    alice, bobs = Device(client), Device(client_for(bob))
    alice.sync(), bobs.sync()
    for visit in (theirs, mine):
        version = Visit.all_objects.get(mobile_id=visit).version
        push(boss, [{"mobile_id": visit, "version": version, "deleted": True}], "visits")
    [tombstone] = alice.sync()
    assert tombstone["mobile_id"] == mine and tombstone["deleted"] and "removed" not in tombstone
    [tombstone] = bobs.sync()
    assert tombstone["mobile_id"] == theirs


def test_a_push_to_a_record_outside_the_view_is_out_of_view(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    visit = create(boss, bob, note="theirs")
    before = Visit.all_objects.get(mobile_id=visit)
    for version in (before.version, 0, before.version + 5):  # stale or ahead: the same
        answer = push(client, [{"mobile_id": visit, "version": version, "note": "mine"}], "visits")
        [error] = answer.json()["errors"]
        assert error["code"] == "out_of_view" and "server_data" not in error
        assert "theirs" not in str(error)
    deleting = push(client, [{"mobile_id": visit, "version": 1, "deleted": True}], "visits")
    assert deleting.json()["errors"][0]["code"] == "out_of_view"
    after = Visit.all_objects.get(mobile_id=visit)
    assert (after.note, after.version, after.deleted) == ("theirs", before.version, False)


def test_the_hook_may_accept_an_entry_outside_the_view(
    domain_options: Callable[..., Any], boss: APIClient, client: APIClient, bob: User
) -> None:
    visit = create(boss, bob, note="theirs")
    with domain_options("visits", service="tests.views.services.AcceptOutOfView"):
        version = Visit.all_objects.get(mobile_id=visit).version
        answer = push(client, [{"mobile_id": visit, "version": version, "note": "done"}], "visits")
    assert answer.json()["synced_items"][0]["status"] == "updated"
    assert Visit.objects.get(mobile_id=visit).note == "done"


def test_another_users_cursor_is_a_400(
    boss: APIClient, client: APIClient, bob: User, client_for: Callable[[User], APIClient]
) -> None:
    create(boss, bob)
    cursor = pull_all(client_for(bob), "visits")[1]
    answer = pull(client, "visits", cursor=cursor)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_cursor"
    assert pull(client_for(bob), "visits", cursor=cursor).status_code == 200


@pytest.mark.parametrize(
    "view",
    [
        {"key": "nowhere"},
        {"inherit": "site"},
        {"user": "pk"},
        {"key": "assignee", "sees_all": "tests.views.access.missing"},
        {"key": "assignee", "colour": "red"},
    ],
)
def test_a_view_that_does_not_resolve_is_check_e022(view: dict[str, Any]) -> None:
    from django_mobile_sync.checks.domains import domain_problems
    from django_mobile_sync.domains import get_domain

    declared = get_domain("visits")
    assert declared is not None
    assert [p.id for p in domain_problems(replace(declared, view=view))] == ["E022"]


def test_purged_moves_make_older_cursors_resync(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from django_mobile_sync.domains import get_domain
    from django_mobile_sync.ops.purge import purge_tombstones

    visit = create(boss, user)
    alice = Device(client)
    alice.sync()
    old_cursor = alice.cursor
    reassign(boss, visit, bob)
    create(boss, user)
    alice.sync()  # this device has seen the move, and what came after
    ViewMove.objects.update(created_at=timezone.now() - timedelta(days=365))
    domain = get_domain("visits")
    assert domain is not None
    purge_tombstones(domain)
    assert not ViewMove.objects.exists()
    assert pull(client, "visits", cursor=old_cursor).status_code == 410
    assert pull(client, "visits", cursor=alice.cursor).status_code == 200
