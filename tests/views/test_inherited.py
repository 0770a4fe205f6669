"""A view inherited through a reference (docs/views.md): steps follow their visit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.helpers.api import make_user, new_id, pull_all, push
from tests.testapp.models import Org, Visit, VisitStep
from tests.views import access

pytestmark = pytest.mark.usefixtures("assigned")


@pytest.fixture
def boss(org: Org, client_for: Callable[[User], APIClient]) -> APIClient:
    user = make_user("boss", org)
    access.SUPERVISORS.add(user.pk)
    return client_for(user)


@pytest.fixture
def bob(org: Org) -> User:
    return make_user("bob", org)


def visit_with_steps(api: APIClient, assignee: User, count: int) -> tuple[str, list[str]]:
    visit, steps = new_id(), [new_id() for _ in range(count)]
    push(api, [{"mobile_id": visit, "version": 0, "assignee": assignee.pk}], "visits")
    entries = [{"mobile_id": s, "version": 0, "visit": visit, "label": s} for s in steps]
    answer = push(api, entries, "visit-steps")
    assert not answer.json()["errors"], answer.content
    return visit, steps


def reassign(api: APIClient, visit: str, to: User) -> None:
    version = Visit.all_objects.get(mobile_id=visit).version
    push(api, [{"mobile_id": visit, "version": version, "assignee": to.pk}], "visits")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["mobile_id"] for item in items)


def test_steps_follow_their_visit(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    client_for: Callable[[User], APIClient],
) -> None:
    visit, steps = visit_with_steps(boss, user, 5)
    _, others = visit_with_steps(boss, bob, 2)
    alice_items, alice = pull_all(client, "visit-steps")
    bob_items, bobs = pull_all(client_for(bob), "visit-steps")
    assert ids(alice_items) == sorted(steps) and ids(bob_items) == sorted(others)

    reassign(boss, visit, bob)
    removed, alice = pull_all(client, "visit-steps", alice, limit=2)
    assert ids(removed) == sorted(steps)
    assert all(
        set(i) == {"mobile_id", "version", "deleted", "removed", "updated_at"} for i in removed
    )
    arrived, bobs = pull_all(client_for(bob), "visit-steps", bobs, limit=2)
    assert ids(arrived) == sorted(steps)  # whole, though the steps did not change
    assert all(i["label"] == i["mobile_id"] and not i["deleted"] for i in arrived)
    assert pull_all(client, "visit-steps", alice)[0] == []
    assert pull_all(client_for(bob), "visit-steps", bobs)[0] == []

    # A step of a visit outside the view cannot be pushed to.
    version = VisitStep.objects.get(mobile_id=steps[0]).version
    answer = push(
        client, [{"mobile_id": steps[0], "version": version, "label": "x"}], "visit-steps"
    )
    assert answer.json()["errors"][0]["code"] == "out_of_view"


def test_a_promotion_backfills_the_steps_and_a_demotion_removes_them(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    _, mine = visit_with_steps(boss, user, 1)
    _, theirs = visit_with_steps(boss, bob, 3)
    _, cursor = pull_all(client, "visit-steps")
    access.SUPERVISORS.add(user.pk)
    items, cursor = pull_all(client, "visit-steps", cursor, limit=2)
    assert ids(items) == sorted(theirs)
    access.SUPERVISORS.discard(user.pk)
    items, cursor = pull_all(client, "visit-steps", cursor, limit=2)
    assert ids(items) == sorted(theirs) and all(i["removed"] for i in items)
    assert mine[0] not in ids(items)
