"""Views on the WatermelonDB endpoint (docs/views.md): removals in ``deleted``, children that
enter with their parent in ``updated``, a change of keys as a replacement sync."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from tests.helpers.views import create, reassign, visit_with_steps
from tests.helpers.watermelon import pull
from tests.views import access


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


def test_a_change_of_role_is_a_replacement_sync(
    boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    mine, theirs = create(boss, user), create(boss, bob)
    first = pull(client)
    assert held(first["changes"], "visits", "created") == [mine]
    access.SUPERVISORS.add(user.pk)
    promoted = pull(client, first["timestamp"])
    assert promoted.get("experimentalStrategy") == "replacement"
    assert held(promoted["changes"], "visits", "updated") == sorted([mine, theirs])
    access.SUPERVISORS.discard(user.pk)
    demoted = pull(client, promoted["timestamp"])
    assert demoted.get("experimentalStrategy") == "replacement"
    assert held(demoted["changes"], "visits", "updated") == [mine]
