"""Pull protocol (docs/protocol.md#pull): pages, tombstones, signed cursor, since, filters, 410."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from django_mobile_sync.domains import get_domain
from django_mobile_sync.engine.cursor import Position, encode_cursor
from django_mobile_sync.ops.purge import purge_tombstones
from django_mobile_sync.service import SyncService
from tests.helpers.api import new_id, pull, pull_all, push
from tests.testapp.models import Task


def seed(client, count, **fields):
    ids = [new_id() for _ in range(count)]
    r = push(client, [{"mobile_id": m, "title": f"T{i}", **fields} for i, m in enumerate(ids)])
    assert len(r.json()["synced_items"]) == count
    return ids


def test_first_pull_returns_everything_with_wire_fields(client):
    [mid] = seed(client, 1, priority=2)
    r = pull(client)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"items", "has_more", "next_cursor", "next_timestamp"}
    [item] = body["items"]
    assert item["mobile_id"] == mid and item["version"] == 1 and item["deleted"] is False
    assert item["priority"] == 2 and item["title"] == "T0" and item["updated_at"].endswith("Z")
    assert "org" not in item and "change_seq" not in item and "field_versions" not in item
    assert body["has_more"] is False


def test_pagination_follows_cursor_without_gaps_or_repeats(client):
    ids = seed(client, 25)
    seen, cursor, pages = [], None, 0
    while True:
        page = pull(client, limit=10, **({"cursor": cursor} if cursor else {})).json()
        pages += 1
        seen += [i["mobile_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
        assert len(page["items"]) == 10
    assert pages == 3 and sorted(seen) == sorted(ids) and len(seen) == 25
    empty = pull(client, cursor=cursor).json()
    assert empty["items"] == [] and empty["has_more"] is False


def test_pull_after_cursor_returns_only_later_changes(client):
    _, b = seed(client, 2)
    _, cursor = pull_all(client)
    push(client, [{"mobile_id": b, "version": 1, "title": "changed"}])
    items, _ = pull_all(client, cursor=cursor)
    assert [(i["mobile_id"], i["version"], i["title"]) for i in items] == [(b, 2, "changed")]


def test_deleted_records_come_as_tombstones(client):
    [mid] = seed(client, 1)
    _, cursor = pull_all(client)
    push(client, [{"mobile_id": mid, "version": 1, "deleted": True}])
    [item] = pull(client, cursor=cursor).json()["items"]
    assert item["mobile_id"] == mid and item["deleted"] is True and item["version"] == 2
    assert "title" not in item


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
def test_bad_limit_is_400(client, limit):
    r = pull(client, limit=limit)
    assert r.status_code == 400 and r.json()["code"]


def test_limit_is_capped_at_max_page_size(client, domain_options):
    seed(client, 5)
    with domain_options(max_page_size=2):
        page = pull(client, limit=1000).json()
    assert len(page["items"]) == 2 and page["has_more"] is True


def test_page_is_bounded_by_bytes(client, settings):
    seed(client, 5, notes="x" * 1000)
    one_item = len(json.dumps(pull(client, limit=1).json()["items"][0]))
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "MAX_PAGE_BYTES": int(one_item * 2.5)}
    page = pull(client, limit=100).json()
    assert len(page["items"]) == 2 and page["has_more"] is True
    items, _ = pull_all(client)
    assert len(items) == 5


def test_forged_cursor_is_400(client):
    seed(client, 1)
    good = pull(client).json()["next_cursor"]
    signature = good.partition(":")[2]
    tampered = signing.b64_encode(b'{"d":"tasks","t":"x","s":0,"p":0}').decode()
    for cursor in ["garbage", f"{tampered}:{signature}", good[:-2] + "xx", "a" * 1500]:
        r = pull(client, cursor=cursor)
        assert r.status_code == 400, cursor
        assert r.json()["code"] == "invalid_cursor"


def test_cursor_of_other_domain_or_tenant_is_400(client, client_for, other_user):
    note_cursor = pull(client, domain="notes").json()["next_cursor"]
    assert pull(client, cursor=note_cursor).status_code == 400
    seed(client, 1)
    mine = pull(client).json()["next_cursor"]
    r = pull(client_for(other_user), cursor=mine)
    assert r.status_code == 400 and "tenant" in r.json()["detail"]


def test_since_is_best_effort_legacy_filter(client):
    old, new = seed(client, 2)
    Task.all_objects.filter(mobile_id=old).update(title="old")
    Task.objects.filter(mobile_id=old).update(updated_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    items = pull(client, since=since).json()["items"]
    assert [i["mobile_id"] for i in items] == [new]
    assert pull(client, since="yesterday").status_code == 400


def test_domain_filters(client):
    low = seed(client, 2, priority=1)
    high = seed(client, 1, priority=4)
    items = pull(client, priority=4).json()["items"]
    assert [i["mobile_id"] for i in items] == high
    assert len(pull(client, priority=1).json()["items"]) == len(low)
    assert pull(client, due_from="not-a-date").status_code == 400


def test_filter_on_a_field_with_choices_refuses_other_values(client):
    [doing] = seed(client, 1, status="doing")
    assert [i["mobile_id"] for i in pull(client, status="doing").json()["items"]] == [doing]
    # A misspelt state would match nothing: the device would think there is nothing to do.
    r = pull(client, status="DOING")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid_filter"
    assert "'DOING' is not a valid status: use one of todo, doing, done." in str(body)


def test_purged_tombstones_make_old_cursors_410(client, org):
    a, _ = seed(client, 2)
    _, old_cursor = pull_all(client)
    push(client, [{"mobile_id": a, "version": 1, "deleted": True}])
    Task.all_objects.filter(mobile_id=a).update(deleted_at=timezone.now() - timedelta(days=91))
    assert purge_tombstones(get_domain("tasks")) == 1
    assert not Task.all_objects.filter(mobile_id=a).exists()
    r = pull(client, cursor=old_cursor)
    assert r.status_code == 410
    assert r.json()["reset_required"] is True and r.json()["detail"]
    fresh = pull(client)  # a resync from scratch works
    assert fresh.status_code == 200
    _, new_cursor = pull_all(client)
    assert pull(client, cursor=new_cursor).status_code == 200


def test_cursor_at_start_position_never_expires(client):
    domain = get_domain("tasks")
    cursor = encode_cursor("tasks", {"org": 1}, Position())
    assert cursor and domain


def test_pull_requires_authentication(db):
    from rest_framework.test import APIClient

    r = APIClient().get("/api/sync/tasks/changes/")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_unknown_domain_is_404(client):
    assert pull(client, domain="nope").status_code == 404
    r = push(client, [], domain="nope")
    assert r.status_code == 404 and r.json()["code"] == "unknown_domain"


@override_settings(MOBILE_SYNC={"DOMAINS": []})
def test_domains_are_read_at_request_time(client):
    assert pull(client).status_code == 404


@override_settings(TIME_ZONE="Asia/Kolkata")
def test_timestamps_are_utc_whatever_the_time_zone(client):
    # docs/protocol.md: all timestamps are UTC. DRF renders datetimes in the active time zone; the
    # protocol's and the records' must not depend on TIME_ZONE.
    with_offset, naive = new_id(), new_id()
    r = push(
        client,
        [
            {"mobile_id": with_offset, "title": "a", "due_at": "2025-10-01T10:00:00+05:30"},
            {"mobile_id": naive, "title": "b", "due_at": "2025-10-01T10:00:00"},
        ],
    )
    assert r.status_code == 200 and r.json()["timestamp"].endswith("Z")
    body = pull(client).json()
    assert body["next_timestamp"].endswith("Z")
    due = {i["mobile_id"]: i["due_at"] for i in body["items"]}
    assert due == {with_offset: "2025-10-01T04:30:00Z", naive: "2025-10-01T10:00:00Z"}
    assert all(i["updated_at"].endswith("Z") for i in body["items"])


def test_choices_of_a_number_field_are_compared_as_numbers(client, monkeypatch):
    monkeypatch.setattr(Task._meta.get_field("priority"), "choices", [(1, "low"), (4, "high")])
    high = seed(client, 1, priority=4)
    assert [i["mobile_id"] for i in pull(client, priority="04").json()["items"]] == high
    r = pull(client, priority="3")
    assert r.status_code == 400 and "use one of 1, 4." in str(r.json())
    assert pull(client, priority="x").json()["code"] == "invalid_filter"


class PurgeMidPull(SyncService):
    """Purges the domain's old tombstones after the pull read its horizon, before its rows,
    from another connection (a ``purge_tombstones`` cron job running at that moment)."""

    def get_pull_queryset(self, params: Any) -> Any:
        def purge() -> None:
            try:
                purge_tombstones(self.domain)
            finally:
                connections.close_all()

        if connection.vendor == "postgresql":
            worker = threading.Thread(target=purge)
            worker.start()
            worker.join(30)
        else:  # SQLite: one connection, no open transaction: the purge commits at once
            purge_tombstones(self.domain)
        return super().get_pull_queryset(params)


def test_a_purge_committing_mid_pull_makes_the_cursor_410(client, domain_options):
    first, doomed, last = (new_id() for _ in range(3))
    push(client, [{"mobile_id": first, "title": "first"}])
    _, cursor = pull_all(client)  # the device holds a cursor after `first`
    push(client, [{"mobile_id": doomed, "title": "doomed"}])
    push(client, [{"mobile_id": doomed, "version": 1, "deleted": True}])
    push(client, [{"mobile_id": last, "title": "last"}])
    old = timezone.now() - timedelta(days=99)
    Task.all_objects.filter(mobile_id=doomed).update(deleted_at=old)

    with domain_options(service="tests.engine.test_pull.PurgeMidPull"):
        r = pull(client, cursor=cursor)
    assert not Task.all_objects.filter(mobile_id=doomed).exists()  # the purge ran
    assert r.status_code == 410, r.json()  # never a page that skips the tombstone
    assert r.json()["reset_required"] is True


def test_a_purge_after_the_rows_were_read_is_seen_by_the_next_page(client, domain_options):
    ids = [new_id() for _ in range(4)]
    push(client, [{"mobile_id": ids[0], "title": "first"}])
    _, cursor = pull_all(client)
    for mid in ids[1:]:
        push(client, [{"mobile_id": mid, "title": mid}])
    page = pull(client, cursor=cursor, limit=1).json()  # serves ids[1] only
    push(client, [{"mobile_id": ids[2], "version": 1, "deleted": True}])
    Task.all_objects.filter(mobile_id=ids[2]).update(
        deleted_at=timezone.now() - timedelta(days=99)
    )
    assert purge_tombstones(get_domain("tasks")) == 1
    assert pull(client, cursor=page["next_cursor"]).status_code == 410
