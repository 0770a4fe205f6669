"""Pulls of domains with a view read rows the fast way (engine/rows.py), as the pulls of
other domains do (tests/engine/test_rows.py): the same bytes as models serialised one by one,
on the per-domain pull (records, backfill, children entering with their parent), the
multi-domain feed and the WatermelonDB endpoint."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models.query import ModelIterable
from django.test import override_settings
from rest_framework.test import APIClient

from django_mobile_sync.engine import RowReader
from django_mobile_sync.records import SyncableModelMixin
from django_mobile_sync.service import SyncService
from tests.helpers.api import CHANGES, PULL_URL, new_id, push
from tests.helpers.views import create, reassign, visit_with_steps
from tests.helpers.watermelon import URL, response_json
from tests.testapp.models import Org, Site
from tests.views import access

pytestmark = pytest.mark.usefixtures("assigned")

#: What differs between two answers of the same page: the signed cursor (it carries the
#: second it was signed), the time of the answer, the WatermelonDB checkpoint (a new id).
MINTED = re.compile(rb'"(next_cursor|next_timestamp|timestamp)":("[^"]*"|\d+)')


@pytest.fixture(autouse=True)
def tables() -> Iterator[None]:
    mapping = {"visits": "visits", "visit_steps": "visit-steps"}
    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "WATERMELON": mapping}):
        yield


def body(response: Any) -> bytes:
    assert response.status_code == 200, response.content
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return MINTED.sub(rb'"\1":0', content)


def both_ways(monkeypatch: pytest.MonkeyPatch, request: Callable[[], Any]) -> bytes:
    """The answer to ``request`` read the fast way, after checking it is the same, byte for
    byte, as the answer read with models."""
    with monkeypatch.context() as general:
        general.setattr(SyncService, "row_reader", lambda self: RowReader(self))
        by_models = body(request())
    fast = body(request())
    assert fast == by_models
    return fast


def test_view_pulls_read_the_same_bytes_as_models(
    monkeypatch: pytest.MonkeyPatch,
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    org: Org,
) -> None:
    site = Site.objects.create(org=org, name="Plant")
    mine = [create(boss, user, note=f'Ünïcode ✓ "{n}"', site=site.pk) for n in range(3)]
    create(boss, None, note="nobody's")
    theirs, steps = visit_with_steps(boss, bob, 3)
    others = [create(boss, bob, note=f"old {n}") for n in range(3)]
    assert mine and steps and others
    cursors: dict[str, str | None] = {"visits": None, "visit-steps": None, "feed": None}
    timestamp: Any = None

    def pull_all() -> None:
        nonlocal timestamp
        for domain in ("visits", "visit-steps", "feed"):
            while True:
                query: dict[str, Any] = {"limit": 2}
                if cursors[domain]:
                    query["cursor"] = cursors[domain]
                if domain == "feed":
                    url, query = CHANGES, {**query, "domains": "visits,visit-steps"}
                else:
                    url = PULL_URL.format(domain)

                def get(url: str = url, query: dict[str, Any] = query) -> Any:
                    return client.get(url, query)

                both_ways(monkeypatch, get)
                answer = get().json()
                cursors[domain] = answer["next_cursor"]
                if not answer["has_more"]:
                    break
        watermelon = {"last_pulled_at": "null" if timestamp is None else timestamp}
        both_ways(monkeypatch, lambda: client.get(URL, watermelon))
        timestamp = response_json(client.get(URL, watermelon))["timestamp"]

    pull_all()  # a first sync
    reassign(boss, theirs, user)  # its steps enter with it
    push(boss, [{"mobile_id": new_id(), "visit": theirs, "label": "new"}], "visit-steps")
    pull_all()
    access.SUPERVISORS.add(user.pk)  # the backfill of every record of the tenant
    pull_all()
    access.SUPERVISORS.discard(user.pk)
    pull_all()


def test_a_view_page_reads_no_model(
    monkeypatch: pytest.MonkeyPatch, boss: APIClient, client: APIClient, user: User, bob: User
) -> None:
    """A page of a view's records, of children entering with their parent and of a
    backfill builds no model of the records it sends (removals read as models the few
    columns they send; the test's own writes build models, not counted)."""
    visit, steps = visit_with_steps(boss, bob, 2)
    mine, theirs = [create(boss, user) for _ in range(3)], create(boss, bob)
    cursor = client.get(PULL_URL.format("visit-steps")).json()["next_cursor"]
    feed = client.get(CHANGES, {"domains": "visits"}).json()["next_cursor"]
    built: list[Any] = []
    iterate, serialize = ModelIterable.__iter__, SyncService.serialize_record

    def models(self: Any) -> Any:
        deferred = self.queryset.query.deferred_loading[0]  # only(): a removal's columns
        if issubclass(self.queryset.model, SyncableModelMixin) and not deferred:
            built.append(self.queryset.model)
        return iterate(self)

    def serialized(self: Any, instance: Any) -> Any:
        built.append(instance)
        return serialize(self, instance)

    monkeypatch.setattr(ModelIterable, "__iter__", models)
    monkeypatch.setattr(SyncService, "serialize_record", serialized)
    items = client.get(PULL_URL.format("visits")).json()["items"]
    assert sorted(i["mobile_id"] for i in items) == sorted(mine)
    assert built == []
    reassign(boss, visit, user)
    built.clear()
    entered = client.get(PULL_URL.format("visit-steps"), {"cursor": cursor}).json()["items"]
    assert sorted(i["mobile_id"] for i in entered) == sorted(steps)
    assert built == []
    access.SUPERVISORS.add(user.pk)
    page = client.get(CHANGES, {"domains": "visits", "cursor": feed}).json()
    assert [i["mobile_id"] for i in page["changes"]["visits"]] == [theirs, visit]  # backfill
    assert built == []
