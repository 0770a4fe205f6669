"""Views under concurrent writers on PostgreSQL (docs/views.md): a reassignment that commits
while the old assignee pulls, and reassignments committing out of order, never leave a
ghost on the old assignee's device nor a gap on the new one's."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.test import APIClient

from tests.helpers.concurrency import Worker, finish, start
from tests.helpers.views import Device, create
from tests.testapp.models import Visit

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("assigned")]


def reassign_held(mobile_id: str, to: User, written: threading.Event, go: threading.Event) -> None:
    """Reassign in a transaction that stays open until ``go``."""
    with transaction.atomic():
        visit = Visit.objects.select_for_update().get(mobile_id=mobile_id)
        visit.assignee = to
        visit.save()
        written.set()
        assert go.wait(20)


def test_a_reassignment_committing_while_the_old_assignee_pulls(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    client_for: Callable[[User], APIClient],
) -> None:
    visits = [create(boss, user, note=f"v{n}") for n in range(3)]
    alice, bobs = Device(client), Device(client_for(bob))
    alice.sync(), bobs.sync()
    written, go = threading.Event(), threading.Event()
    [writer] = start(Worker("reassign", reassign_held, visits[0], bob, written, go))
    assert written.wait(20)
    create(boss, user, note="later")  # commits after the reassignment's transaction began
    alice.sync(limit=1)  # the open transaction holds the horizon: nothing of it yet
    assert visits[0] in alice.held
    go.set()
    finish(writer)
    alice.sync(limit=1)
    bobs.sync(limit=1)
    assert visits[0] not in alice.held and visits[0] in bobs.held
    expected = {str(v.mobile_id) for v in Visit.objects.filter(assignee=user)}
    assert set(alice.held) == expected
    assert set(bobs.held) == {str(v.mobile_id) for v in Visit.objects.filter(assignee=bob)}


def test_reassignments_committing_out_of_order(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    client_for: Callable[[User], APIClient],
) -> None:
    first, second = create(boss, user), create(boss, user)
    alice, bobs = Device(client), Device(client_for(bob))
    alice.sync(), bobs.sync()
    written, go = threading.Event(), threading.Event()
    [older] = start(Worker("older", reassign_held, first, bob, written, go))
    assert written.wait(20)
    done, now = threading.Event(), threading.Event()
    now.set()
    finish(*start(Worker("newer", reassign_held, second, bob, done, now)))  # commits first
    alice.sync(), bobs.sync()
    # The newer commit waits behind the older transaction's id: neither is served yet.
    assert first in alice.held and second in alice.held and bobs.held == {}
    go.set()
    finish(older)
    alice.sync(), bobs.sync()
    assert alice.held == {}
    versions = {m: Visit.objects.get(mobile_id=m).version for m in (first, second)}
    assert {m: i["version"] for m, i in bobs.held.items()} == versions
