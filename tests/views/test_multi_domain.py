"""Views on the multi-domain pull (docs/views.md): removals and backfill in the feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.helpers.api import CHANGES, multi_pull_all
from tests.helpers.views import ids, reassign, visit_with_steps
from tests.views import access

pytestmark = pytest.mark.usefixtures("assigned")
DOMAINS = "visits,visit-steps"


def sync(api: APIClient, cursor: str | None, **params: Any) -> tuple[dict[str, list[Any]], str]:
    pages, cursor = multi_pull_all(api, cursor, domains=DOMAINS, **params)
    merged: dict[str, list[Any]] = {"visits": [], "visit-steps": []}
    for page in pages:
        for name, items in page["changes"].items():
            merged[name] += items
    return merged, cursor


def test_the_feed_carries_removals_and_whole_records(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    client_for: Callable[[User], APIClient],
) -> None:
    visit, steps = visit_with_steps(boss, user, 3)
    alice_got, alice = sync(client, None)
    bob_got, bobs = sync(client_for(bob), None)
    assert ids(alice_got["visits"]) == [visit] and ids(alice_got["visit-steps"]) == sorted(steps)
    assert bob_got == {"visits": [], "visit-steps": []}

    reassign(boss, visit, bob)
    alice_got, alice = sync(client, alice, limit=2)
    assert ids(alice_got["visits"]) == [visit] and ids(alice_got["visit-steps"]) == sorted(steps)
    assert all(i["removed"] for items in alice_got.values() for i in items)
    pages, bobs = multi_pull_all(client_for(bob), bobs, domains=DOMAINS, limit=2)
    order = [(name, i) for p in pages for name, items in p["changes"].items() for i in items]
    assert next(name for name, _ in order) == "visits"  # the parent first
    assert ids([i for name, i in order if name == "visit-steps"]) == sorted(steps)
    assert all(not i["deleted"] for _, i in order)
    assert sync(client, alice)[0] == {"visits": [], "visit-steps": []}
    assert sync(client_for(bob), bobs)[0] == {"visits": [], "visit-steps": []}

    # Another user's feed cursor is refused.
    answer = client.get(CHANGES, {"domains": DOMAINS, "cursor": bobs})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_cursor"


def test_a_promotion_on_the_feed_backfills_then_a_demotion_removes(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    visit, steps = visit_with_steps(boss, bob, 3)
    got, cursor = sync(client, None)
    assert got == {"visits": [], "visit-steps": []}
    access.SUPERVISORS.add(user.pk)
    got, cursor = sync(client, cursor, limit=2)
    assert ids(got["visits"]) == [visit] and ids(got["visit-steps"]) == sorted(steps)
    assert not any(i.get("removed") for items in got.values() for i in items)
    access.SUPERVISORS.discard(user.pk)
    got, cursor = sync(client, cursor, limit=2)
    assert ids(got["visits"]) == [visit] and ids(got["visit-steps"]) == sorted(steps)
    assert all(i["removed"] for items in got.values() for i in items)
    assert sync(client, cursor)[0] == {"visits": [], "visit-steps": []}
