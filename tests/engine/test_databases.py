"""Tenants on several primaries (docs/scaling.md, ``SyncDomain(database=...)``): no cross-talk.

The ``routed-notes`` domain stores the notes of users whose name starts with ``other`` in
the ``other`` database and everyone else's in ``default``; it has no tenant fields, so the
database is the only boundary between the two tenants, and both number their records
alike. Cursors, idempotency keys and throttle counters of one must never answer for the
other (docs/scaling.md, "Tenants on several primaries") — also under concurrent load, on
PostgreSQL, with real threads.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User

from django_mobile_sync.models import IdempotencyRecord, ThrottleCounter
from tests.helpers import races
from tests.helpers.api import make_user, new_id, pull, pull_all, push
from tests.helpers.databases import DOMAIN, client_of, rates, run_threads
from tests.testapp.models import Note

both = pytest.mark.django_db(databases=["default", "other"], transaction=True)


@pytest.fixture
def near(db: Any) -> User:
    return make_user("near", None)  # routed to "default"


@pytest.fixture
def far(db: Any) -> User:
    return make_user("other-far", None)  # routed to "other"


@both
def test_a_cursor_of_one_database_is_a_400_on_the_other(near: User, far: User) -> None:
    for user in (near, far):
        push(client_of(user), [{"mobile_id": new_id(), "text": user.username}], domain=DOMAIN)
    _, near_cursor = pull_all(client_of(near), domain=DOMAIN)
    _, far_cursor = pull_all(client_of(far), domain=DOMAIN)
    # Same domain, same (empty) scope, a valid signature: only the database differs.
    for user, cursor in ((near, far_cursor), (far, near_cursor)):
        response = pull(client_of(user), domain=DOMAIN, cursor=cursor)
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid_cursor"
        assert "another database" in response.json()["detail"]
    for user, cursor in ((near, near_cursor), (far, far_cursor)):
        assert pull(client_of(user), domain=DOMAIN, cursor=cursor).status_code == 200


@both
def test_idempotency_keys_of_one_database_never_answer_for_the_other(
    near: User, far: User
) -> None:
    key = {"Idempotency-Key": "same-key-on-both-databases"}
    bodies = {near: [{"mobile_id": new_id(), "text": "near"}], far: []}
    first = {u: push(client_of(u), e, domain=DOMAIN, headers=key) for u, e in bodies.items()}
    for response in first.values():
        assert response.status_code == 200, response.content
        assert "Idempotent-Replayed" not in response
    assert IdempotencyRecord.objects.using("default").count() == 1
    assert IdempotencyRecord.objects.using("other").count() == 1
    for user, entries in bodies.items():
        again = push(client_of(user), entries, domain=DOMAIN, headers=key)
        assert again["Idempotent-Replayed"] == "true"
        assert again.content == first[user].content
    assert [n.text for n in Note.objects.using("default").all()] == ["near"]
    assert not Note.objects.using("other").exists()


@both
def test_throttle_counters_count_each_tenant_apart(near: User, far: User) -> None:
    with rates(user="2/hour"):
        answers = {
            user: [push(client_of(user), [], domain=DOMAIN).status_code for _ in range(3)]
            for user in (near, far)
        }
    assert answers == {near: [200, 200, 429], far: [200, 200, 429]}
    # One store for every database: the router's (default) here.
    assert ThrottleCounter.objects.using("default").count() >= 2
    assert not ThrottleCounter.objects.using("other").exists()


@pytest.mark.postgres
def test_tenants_on_two_databases_under_concurrent_load_never_cross() -> None:
    races.tenants_on_two_databases_never_cross()


@pytest.mark.postgres
def test_throttles_stay_exact_per_tenant_under_concurrent_pushes_to_two_databases() -> None:
    users = [make_user("near-burst", None), make_user("other-burst", None)]
    attempts = 8

    def attempt(user: User, n: int) -> tuple[str, int]:
        api = client_of(User.objects.get(pk=user.pk))
        response = push(api, [], domain=DOMAIN, headers={"X-Device-Id": uuid.uuid4().hex})
        return user.username, response.status_code

    with rates(user="5/hour"):
        results = run_threads(attempt, [(u, n) for u in users for n in range(attempts)])
    for user in users:
        codes = sorted(code for name, code in results if name == user.username)
        assert codes == [200] * 5 + [429] * (attempts - 5), (user.username, codes)
