"""Views on the WatermelonDB endpoint (docs/views.md): removals in ``deleted``, records new to
the device in ``created``, a change of the user's access as an ordinary incremental pull
(backfill, then removals) with the keys the device holds kept in its checkpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from django_mobile_sync.domains import SyncDomain
from django_mobile_sync.watermelondb.models import WatermelonCheckpoint
from tests.helpers.api import new_id, push
from tests.helpers.views import create, reassign, visit_with_steps
from tests.helpers.watermelon import WatermelonDevice, change_set, pull, push_changes
from tests.testapp.models import Org, Site, Visit, VisitStep
from tests.views import access

TABLES = ["visits", "visit_steps"]


@pytest.fixture(autouse=True)
def tables(assigned: None) -> Iterator[None]:
    mapping = {"visits": "visits", "visit_steps": "visit-steps"}
    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "WATERMELON": mapping}):
        yield


def held(changes: dict[str, Any], table: str, kind: str) -> list[str]:
    return sorted(r if isinstance(r, str) else r["id"] for r in changes[table][kind])


def test_a_reassigned_record_is_deleted_from_the_old_device_and_arrives_on_the_new(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    client_for: Callable[[User], APIClient],
) -> None:
    visit, steps = visit_with_steps(boss, user, 2)
    theirs = create(boss, bob)
    first = pull(client)
    assert held(first["changes"], "visits", "created") == [visit]
    assert held(first["changes"], "visit_steps", "created") == sorted(steps)
    bobs = pull(client_for(bob))
    assert held(bobs["changes"], "visits", "created") == [theirs]

    reassign(boss, visit, bob)
    after = pull(client, first["timestamp"])
    assert held(after["changes"], "visits", "deleted") == [visit]
    assert held(after["changes"], "visit_steps", "deleted") == sorted(steps)
    assert after["changes"]["visits"]["updated"] == []
    again = pull(client, after["timestamp"])
    assert again["changes"]["visits"]["deleted"] == []

    arrived = pull(client_for(bob), bobs["timestamp"])  # new to his device: created
    assert held(arrived["changes"], "visits", "created") == [visit]
    assert held(arrived["changes"], "visit_steps", "created") == sorted(steps)
    assert arrived["changes"]["visits"]["updated"] == []
    assert arrived["changes"]["visits"]["deleted"] == []


def device(api: APIClient) -> WatermelonDevice:
    return WatermelonDevice(api, TABLES)


def in_view(user: User, org: Org) -> dict[str, dict[str, Any]]:
    """``{table: {id: assignee}}`` of what ``user`` sees now (the assignee of a step is
    its visit's)."""
    visits = Visit.objects.filter(org=org)
    if user.pk not in access.SUPERVISORS:
        visits = visits.filter(assignee__in=[user]) | visits.filter(assignee__isnull=True)
    steps = VisitStep.objects.filter(org=org, visit__in=visits)
    return {
        "visits": {str(v.mobile_id): v.assignee_id for v in visits},
        "visit_steps": {str(s.mobile_id): s.visit.assignee_id for s in steps},
    }


def holds(phone: WatermelonDevice, org: Org) -> dict[str, dict[str, Any]]:
    """What the device holds, in the form of :func:`in_view`."""
    visits = {k: v["assignee"] for k, v in phone.held["visits"].items()}
    steps = {k: visits.get(v["visit_id"], "?") for k, v in phone.held["visit_steps"].items()}
    return {"visits": visits, "visit_steps": steps}


def test_a_change_of_role_backfills_then_removes_without_a_replacement_sync(
    boss: APIClient, client: APIClient, user: User, bob: User, org: Org
) -> None:
    mine = create(boss, user)
    theirs, steps = visit_with_steps(boss, bob, 2)  # unchanged from here on
    others = [create(boss, bob, note=f"old {n}") for n in range(3)]
    alice = device(client)
    alice.sync()
    assert held(alice.last["changes"], "visits", "created") == [mine]

    access.SUPERVISORS.add(user.pk)  # promoted: every record of the tenant, in full
    promoted = alice.sync()
    assert "experimentalStrategy" not in promoted
    assert held(promoted["changes"], "visits", "created") == sorted([theirs, *others])
    assert held(promoted["changes"], "visit_steps", "created") == sorted(steps)
    assert alice.held["visits"][others[0]]["note"] == "old 0"
    assert promoted["changes"]["visits"]["updated"] == []
    assert promoted["changes"]["visits"]["deleted"] == []
    assert holds(alice, org) == in_view(user, org)

    access.SUPERVISORS.discard(user.pk)  # a worker again: the others' records leave
    demoted = alice.sync()
    assert "experimentalStrategy" not in demoted
    assert held(demoted["changes"], "visits", "deleted") == sorted([theirs, *others])
    assert held(demoted["changes"], "visit_steps", "deleted") == sorted(steps)
    assert demoted["changes"]["visits"]["created"] == demoted["changes"]["visits"]["updated"]
    assert demoted["changes"]["visits"]["created"] == []
    assert holds(alice, org) == in_view(user, org)
    again = alice.sync()
    assert again["timestamp"] == demoted["timestamp"]  # nothing new: the same checkpoint
    assert all(again["changes"][t] == change_set() for t in TABLES)
    assert alice.errors == []


def test_the_checkpoint_keeps_the_keys_the_device_holds(
    boss: APIClient, client: APIClient, user: User
) -> None:
    for _ in range(20):
        create(boss, None)
    alice = device(client)
    alice.sync()
    checkpoint = WatermelonCheckpoint.objects.get(pk=int(alice.timestamp or 0))
    keys = [None, str(user.pk)]  # O(the user's keys), whatever the number of records
    assert checkpoint.view_keys == {"visits": keys, "visit_steps": keys}
    assert "visits" not in checkpoint.state or str(user.pk) not in checkpoint.state
    access.SUPERVISORS.add(user.pk)
    alice.sync()
    checkpoint = WatermelonCheckpoint.objects.get(pk=int(alice.timestamp or 0))
    assert checkpoint.view_keys == {"visits": "*", "visit_steps": "*"}


def test_site_membership_moves_the_records_of_the_sites(
    domain_options: Callable[..., Any],
    org: Org,
    other_org: Org,
    client: APIClient,
    user: User,
) -> None:
    north, south = Site.objects.create(org=org, name="N"), Site.objects.create(org=org, name="S")
    with domain_options("visits", view=access.BY_SITE):
        access.SITES[user.pk] = {north.pk}
        at_north = sorted(str(Visit.objects.create(org=org, site=north).mobile_id) for _ in "ab")
        at_south = sorted(str(Visit.objects.create(org=org, site=south).mobile_id) for _ in "ab")
        elsewhere = Site.objects.create(org=other_org, name="X")
        Visit.objects.create(org=other_org, site=elsewhere)
        alice = device(client)
        alice.sync()
        assert sorted(alice.held["visits"]) == at_north
        access.SITES[user.pk] = {south.pk, elsewhere.pk}  # another tenant's site: nothing
        body = alice.sync()
        assert held(body["changes"], "visits", "created") == at_south
        assert held(body["changes"], "visits", "deleted") == at_north
        assert sorted(alice.held["visits"]) == at_south
        assert alice.errors == []


def test_a_promotion_does_not_reach_other_users_or_tenants(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    other_user: User,
    client_for: Callable[[User], APIClient],
) -> None:
    mine, bobs_visit = create(boss, user), create(boss, bob)
    elsewhere = create(client_for(other_user), None)  # another tenant's unassigned visit
    alice, bobs = device(client), device(client_for(bob))
    alice.sync(), bobs.sync()
    access.SUPERVISORS.add(user.pk)
    body = alice.sync()
    assert held(body["changes"], "visits", "created") == [bobs_visit]
    assert elsewhere not in alice.held["visits"]
    assert bobs.sync()["changes"]["visits"] == change_set()  # bob's view did not change
    assert mine not in bobs.held["visits"]
    access.SUPERVISORS.discard(user.pk)
    body = alice.sync()
    assert held(body["changes"], "visits", "deleted") == [bobs_visit]  # only what she held
    assert alice.errors == bobs.errors == []


def test_a_tombstone_of_the_keys_given_up_reaches_who_held_the_record(
    boss: APIClient, client: APIClient, user: User, bob: User, org: Org
) -> None:
    access.SUPERVISORS.add(user.pk)
    theirs = create(boss, bob)
    alice = device(client)
    alice.sync()
    assert theirs in alice.held["visits"]
    version = Visit.all_objects.get(mobile_id=theirs).version
    push(boss, [{"mobile_id": theirs, "version": version, "deleted": True}], "visits")
    access.SUPERVISORS.discard(user.pk)
    body = alice.sync()
    assert held(body["changes"], "visits", "deleted") == [theirs]
    assert holds(alice, org) == in_view(user, org)


def test_a_promotion_lists_no_tombstone_of_a_record_the_device_never_held(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    theirs, kept = create(boss, bob), create(boss, bob)
    alice = device(client)
    alice.sync()
    assert theirs not in alice.held["visits"]
    version = Visit.all_objects.get(mobile_id=theirs).version
    push(boss, [{"mobile_id": theirs, "version": version, "deleted": True}], "visits")
    access.SUPERVISORS.add(user.pk)  # she never saw it: its id is not hers to learn
    body = alice.sync()
    assert held(body["changes"], "visits", "created") == [kept]
    assert body["changes"]["visits"]["deleted"] == []
    assert alice.errors == []


def test_a_domain_that_loses_its_view_is_served_whole(
    boss: APIClient, client: APIClient, user: User, bob: User, org: Org
) -> None:
    mine, theirs = create(boss, user), create(boss, bob)
    alice = device(client)
    alice.sync()
    later = create(boss, user)
    alice.sync()
    assert sorted(alice.held["visits"]) == sorted([mine, later])
    domains = [
        replace(d, view=None) if isinstance(d, SyncDomain) else d
        for d in settings.MOBILE_SYNC["DOMAINS"]
    ]
    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "DOMAINS": domains}):
        alice.sync()  # the records she never got, though unchanged, come now
    assert sorted(alice.held["visits"]) == sorted([mine, later, theirs])
    assert alice.errors == []


def test_a_reassignment_and_a_role_change_in_one_interval(
    boss: APIClient, client: APIClient, user: User, bob: User, org: Org
) -> None:
    mine, other, steps_of = create(boss, user), create(boss, bob), {}
    moving, steps = visit_with_steps(boss, user, 2)
    steps_of[moving] = steps
    alice = device(client)
    alice.sync()
    access.SUPERVISORS.add(user.pk)
    reassign(boss, moving, bob)  # she had it; she still sees it as a supervisor
    reassign(boss, other, None)  # she did not have it: it is new to her device
    body = alice.sync()
    assert held(body["changes"], "visits", "updated") == [moving]
    assert held(body["changes"], "visits", "created") == [other]
    assert body["changes"]["visit_steps"] == change_set()  # she holds the steps already
    access.SUPERVISORS.discard(user.pk)
    reassign(boss, mine, bob)
    body = alice.sync()
    assert held(body["changes"], "visits", "deleted") == sorted([mine, moving])
    assert held(body["changes"], "visit_steps", "deleted") == sorted(steps)
    assert holds(alice, org) == in_view(user, org)
    assert alice.errors == []


def test_own_writes_come_back_as_updated_after_a_change_of_access(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    theirs = create(boss, bob)
    alice = device(client)
    alice.sync()
    own = new_id()
    raw = {"id": own, "note": "written offline", "assignee": user.pk, "site": None}
    answer = push_changes(client, alice.timestamp, {"visits": change_set(created=[raw])})
    assert answer.status_code == 200, answer.content
    alice.held["visits"][own] = raw  # WatermelonDB keeps its own record
    access.SUPERVISORS.add(user.pk)
    body = alice.sync()
    assert held(body["changes"], "visits", "updated") == [own]
    assert held(body["changes"], "visits", "created") == [theirs]
    assert alice.errors == []


def test_a_backfill_is_streamed_in_chunks_of_rows(
    boss: APIClient, client: APIClient, user: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_mobile_sync.watermelondb import pull as pull_module

    alice = device(client)
    alice.sync()
    entering = sorted(create(boss, bob) for _ in range(11))
    access.SUPERVISORS.add(user.pk)
    monkeypatch.setattr(pull_module, "CHUNK", 4)
    with CaptureQueriesContext(connection) as queries:
        body = alice.sync()
    assert held(body["changes"], "visits", "created") == entering
    limited = [q["sql"] for q in queries if "visit" in q["sql"] and "LIMIT 4" in q["sql"]]
    assert len(limited) >= 3  # 11 records entering, 4 per query
    access.SUPERVISORS.discard(user.pk)
    with CaptureQueriesContext(connection) as queries:
        body = alice.sync()
    assert held(body["changes"], "visits", "deleted") == entering  # ids streamed too
    limited = [q["sql"] for q in queries if "visit" in q["sql"] and "LIMIT 4" in q["sql"]]
    assert len(limited) >= 3
