"""Regression tests of the second reliability review (issue 13), one section per defect.

1. one poisoned entry failed the whole batch with a 500 on every retry;
2. the admin's re-apply could write into another tenant's record;
3. a tombstone purge committing in the middle of a pull let the device skip it;
6. a record moved to another tenant stayed live on the old tenant's devices;
7. ``mobile_id`` came back lowercased;
8. writes through a database router took the change clock on the read alias.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_mobile_sync.domains import get_domain
from django_mobile_sync.models import IdempotencyRecord, SyncConflict, TenantFieldChanged
from django_mobile_sync.purge import purge_tombstones
from django_mobile_sync.service import SyncService
from tests.conftest import PUSH_URL, make_user, new_id, pull, pull_all, push
from tests.test_admin import messages_of, reapply
from tests.testapp.models import Org, Task

# -- 1. poisoned entries --------------------------------------------------------------------

#: Raw JSON text of values no database column can hold, and what the answer says of each.
POISONS = {
    "nul": ('"a\\u0000b"', "NUL character"),
    "lone surrogate": ('"\\ud83d"', "unpaired UTF-16 surrogate"),
    "deep nesting": ("[" * 500 + "1" + "]" * 500, "nested too deeply"),
    "overflowing number": ("1e400", "overflows to infinity"),
}


def raw_push(api: Any, entries: list[str], domain: str = "tasks", **headers: str) -> Any:
    """Push entries given as raw JSON text (``json.dumps`` cannot write some poisons)."""
    body = '{{"client_id": "device-1", "entries": [{}]}}'.format(", ".join(entries))
    return api.post(
        PUSH_URL.format(domain), body, content_type="application/json", headers=headers
    )


def entry(mobile_id: str, version: int = 0, junk: str | None = None, **fields: Any) -> str:
    text = json.dumps({"mobile_id": mobile_id, "version": version, **fields})
    return text if junk is None else text[:-1] + f', "junk": {junk}' + "}"


@pytest.mark.parametrize("resolver", ["reject", "server_wins", "merge"])
@pytest.mark.parametrize("poison", list(POISONS))
def test_a_stale_entry_with_an_unstorable_value_is_its_own_error(
    client, domain_options, poison, resolver
):
    stale, sibling = new_id(), new_id()
    push(client, [{"mobile_id": stale, "title": "base"}])
    Task.objects.filter(mobile_id=stale).update(notes="server edit")
    junk, reason = POISONS[poison]
    with domain_options(resolver=resolver):
        r = raw_push(
            client, [entry(stale, 1, junk, title="device"), entry(sibling, title="valid sibling")]
        )
    assert r.status_code == 200, r.content
    body = r.json()
    [error] = body["errors"]
    assert error["mobile_id"] == stale and error["code"] == "unstorable"
    assert reason in error["field_errors"]["junk"][0]
    assert [i["mobile_id"] for i in body["synced_items"]] == [sibling]
    assert Task.objects.get(mobile_id=sibling).title == "valid sibling"
    assert Task.objects.get(mobile_id=stale).title == "base"  # nothing of it applied
    assert not SyncConflict.objects.filter(mobile_id=stale).exists()


@pytest.mark.parametrize("poison", list(POISONS))
def test_the_same_batch_retried_with_a_key_is_replayed_not_failed(client, poison):
    new, sibling = new_id(), new_id()
    junk, _ = POISONS[poison]
    entries = [entry(new, 0, junk, title="new"), entry(sibling, title="sibling")]
    first = raw_push(client, entries, **{"Idempotency-Key": "retry-1"})
    again = raw_push(client, entries, **{"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    assert IdempotencyRecord.objects.get(key="retry-1").state == IdempotencyRecord.DONE


def test_a_number_overflowing_to_infinity_is_the_entry_s_error_not_a_400(client):
    bad, good = new_id(), new_id()
    r = raw_push(
        client, [entry(bad, 0, None)[:-1] + ', "priority": 1e400}', entry(good, title="ok")]
    )
    assert r.status_code == 200, r.content
    [error] = r.json()["errors"]
    assert error["mobile_id"] == bad and error["field_errors"]["priority"]
    assert Task.objects.filter(mobile_id=good).exists()


def test_unstorable_keys_and_ids_are_answered_not_crashed_on(client):
    key, odd_id = new_id(), '"\\ud83d"'
    body = [entry(key)[:-1] + ', "ju\\u0000nk": 1}', f'{{"mobile_id": {odd_id}}}']
    r = raw_push(client, body)
    assert r.status_code == 200, r.content
    first, second = r.json()["errors"]
    assert first["code"] == "unstorable" and list(first["field_errors"]) == ["ju\\x00nk"]
    assert second["mobile_id"] == "\ud83d"  # echoed as sent, escaped in the JSON


def test_a_device_id_that_cannot_be_stored_is_a_400(client):
    r = raw_push(client, [], **{"X-Device-Id": "a\x00b"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_device_id"
    body = '{"client_id": "\\ud83d", "entries": []}'
    r = client.post(PUSH_URL.format("tasks"), body, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "surrogate_characters_not_allowed"


# -- 2. re-apply stays within the audit row's tenant ----------------------------------------


def test_reapply_never_writes_into_another_tenant_s_record(client, client_for, admin_client):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "Acme's", "notes": "base"}])
    Task.objects.filter(mobile_id=mid).update(title="Acme server edit")
    push(client, [{"mobile_id": mid, "version": 1, "notes": "device"}])
    conflict = SyncConflict.objects.get(mobile_id=mid)
    acme = Task.all_objects.get(mobile_id=mid)
    assert conflict.scope == {"org": acme.org_id}  # the audit log records the tenant
    # Acme's record is deleted and its tombstone purged; Globex creates the same mobile_id.
    push(client, [{"mobile_id": mid, "version": 2, "deleted": True}])
    Task.all_objects.filter(mobile_id=mid).update(deleted_at=timezone.now() - timedelta(days=99))
    assert purge_tombstones(get_domain("tasks")) == 1
    globex = client_for(make_user("gus", Org.objects.create(name="Globex")))
    push(globex, [{"mobile_id": mid, "title": "Globex's", "notes": "theirs"}])

    [message] = messages_of(reapply(admin_client, conflict))
    assert "no longer exists" in message
    theirs = Task.all_objects.get(mobile_id=mid)
    assert (theirs.title, theirs.notes, theirs.version) == ("Globex's", "theirs", 1)


def test_reapply_refuses_an_audit_row_without_its_tenant(client, admin_client):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "Base"}])
    Task.objects.filter(mobile_id=mid).update(title="Server")
    push(client, [{"mobile_id": mid, "version": 1, "notes": "device"}])
    conflict = SyncConflict.objects.get(mobile_id=mid)
    SyncConflict.objects.filter(pk=conflict.pk).update(scope={})  # recorded before scopes
    [message] = messages_of(reapply(admin_client, conflict))
    assert "does not record the record's tenant" in message
    assert Task.objects.get(mobile_id=mid).notes == ""


def test_save_locks_its_row_within_its_tenant(org):
    task = Task.objects.create(org=org, title="a")
    task.title = "b"
    with CaptureQueriesContext(connection) as queries:
        task.save()
    [lock] = [q["sql"] for q in queries if q["sql"].startswith('SELECT "testapp_task"."version"')]
    assert '"org_id"' in lock.split("WHERE", 1)[1]


# -- 3. a purge committing in the middle of a pull ------------------------------------------


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

    with domain_options(service="tests.test_reliability.PurgeMidPull"):
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


# -- 6. tenant fields are immutable ---------------------------------------------------------


def test_a_synced_record_cannot_move_to_another_tenant(client, org, other_org):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "Acme's"}])
    task = Task.objects.get(mobile_id=mid)
    task.org = other_org
    with pytest.raises(ValidationError) as invalid:  # the admin's forms call full_clean()
        task.full_clean()
    assert "org" in invalid.value.message_dict
    with pytest.raises(TenantFieldChanged, match="org cannot change"):
        task.save()
    with pytest.raises(TenantFieldChanged):
        Task.objects.filter(mobile_id=mid).update(org=other_org)
    with pytest.raises(TenantFieldChanged):
        Task.objects.bulk_update([task], ["org"])
    assert Task.objects.get(mobile_id=mid).org == org
    items, _ = pull_all(client)
    assert [i["mobile_id"] for i in items] == [mid]


# -- 7. mobile_id echoed as sent -------------------------------------------------------------


def test_answers_echo_the_mobile_id_as_sent_and_pull_returns_it_canonical(client):
    upper, dupe, invalid = new_id().upper(), new_id().upper(), new_id().upper()
    r = push(client, [{"mobile_id": upper, "title": "iOS"}])
    assert r.json()["synced_items"][0]["mobile_id"] == upper
    Task.objects.filter(mobile_id=upper).update(title="server")
    body = push(
        client,
        [
            {"mobile_id": upper, "version": 1, "title": "stale"},
            {"mobile_id": dupe, "title": "x"},
            {"mobile_id": dupe.lower(), "title": "y"},  # the same record: a duplicate
            {"mobile_id": invalid, "title": ""},
        ],
    ).json()
    assert body["conflicts"][0]["mobile_id"] == upper
    assert body["conflicts"][0]["server_data"]["mobile_id"] == upper.lower()
    assert body["synced_items"][0]["mobile_id"] == dupe
    assert [e["mobile_id"] for e in body["errors"]] == [dupe.lower(), invalid]
    items, _ = pull_all(client)
    assert {i["mobile_id"] for i in items} == {upper.lower(), dupe.lower()}


# -- 8. a router sending reads elsewhere -----------------------------------------------------


class ReadsToOther:
    """A primary/replica router: reads go to ``other``, writes to ``default``."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return "other"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True


def row_xmin(task: Task) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text::bigint FROM testapp_task WHERE id = %s", [task.pk])
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
@pytest.mark.parametrize("write", ["update", "delete", "bulk_create", "bulk_update"])
def test_writes_through_a_router_take_the_clock_on_the_write_alias(org, write):
    task = Task.objects.create(org=org, title="before")
    with (
        override_settings(DATABASE_ROUTERS=[ReadsToOther()]),
        CaptureQueriesContext(connections["other"]) as on_read_alias,
    ):
        if write == "update":
            Task.objects.filter(pk=task.pk).update(title="after")
        elif write == "delete":
            Task.objects.filter(pk=task.pk).delete()
        elif write == "bulk_create":
            [task] = Task.objects.bulk_create([Task(org=org, title="new")])
        else:
            task.title = "bulk"
            Task.objects.bulk_update([task], ["title"])
    assert on_read_alias.captured_queries == []
    written = Task.all_objects.using("default").get(pk=task.pk)
    if connection.vendor == "postgresql":  # stamped with the writing transaction's id
        assert written.change_seq % 2**32 == row_xmin(written)
    else:
        from django_mobile_sync.models import ChangeClock

        assert written.change_seq == ChangeClock.objects.using("default").get(pk=1).value
