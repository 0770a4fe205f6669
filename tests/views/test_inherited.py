"""A view inherited through a reference (docs/views.md): steps follow their visit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.helpers.api import multi_pull_all, new_id, pull_all, push
from tests.helpers.views import ids, reassign, visit_with_steps
from tests.testapp.models import VisitStep
from tests.views import access

pytestmark = pytest.mark.usefixtures("assigned")


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


@pytest.mark.parametrize("feed", [False, True], ids=["steps", "feed"])
@pytest.mark.parametrize("change", ["promoted", "gains the old key"])
def test_steps_of_a_visit_moved_into_the_view_just_before_a_change_of_keys_arrive(
    boss: APIClient, client: APIClient, user: User, bob: User, feed: bool, change: str
) -> None:
    """The visit moves from bob to alice after her cursor, then her keys change so that
    they hold bob's key too: the steps (unchanged) are not the gain's (their key is one
    she held) and the move is not out of a key she did not hold any more; they still
    arrive, once."""
    visit, steps = visit_with_steps(boss, bob, 2)
    if feed:
        pages, cursor = multi_pull_all(client, domains="visits,visit-steps")
        assert all(page["changes"] == {"visits": [], "visit-steps": []} for page in pages)
    else:
        items, cursor = pull_all(client, "visit-steps")
        assert items == []
    reassign(boss, visit, user)
    if change == "promoted":
        access.SUPERVISORS.add(user.pk)
    else:
        access.COVERS[user.pk] = {bob.pk}
    if feed:
        pages, cursor = multi_pull_all(client, cursor, domains="visits,visit-steps", limit=1)
        assert ids([i for page in pages for i in page["changes"]["visits"]]) == [visit]
        arrived = [i for page in pages for i in page["changes"]["visit-steps"]]
    else:
        arrived, cursor = pull_all(client, "visit-steps", cursor, limit=1)
    assert ids(arrived) == sorted(steps)
    assert all(not item["deleted"] for item in arrived)


def test_a_reference_to_a_record_outside_the_view_is_unknown(
    boss: APIClient, client: APIClient, bob: User
) -> None:
    visit, _ = visit_with_steps(boss, bob, 0)
    step = {"mobile_id": new_id(), "visit": visit, "label": "mine now"}
    [error] = push(client, [step], "visit-steps").json()["errors"]
    assert error["code"] == "unknown_reference"
    assert error["field_errors"]["visit"] == ["No record with this id exists in your scope."]
