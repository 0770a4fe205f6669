"""The admin: audit log (filters, payloads side by side, re-apply), idempotency, batch log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from django_mobile_sync.models import IdempotencyRecord, SyncBatch, SyncConflict, TombstonePurge
from django_mobile_sync.reapply import REAPPLIED
from tests.conftest import new_id, push
from tests.testapp.models import Task

ADMIN = "/admin/django_mobile_sync/"
CONFLICTS = ADMIN + "syncconflict/"


def stale_conflict(client, **edit):
    """A rejected device edit of a task the server changed meanwhile; its audit row."""
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "Base", "notes": "base notes"}])
    Task.objects.filter(mobile_id=mid).update(title="Server title")
    body = push(client, [{"mobile_id": mid, "version": 1, **(edit or {"notes": "device"})}])
    assert body.json()["conflicts"], body.json()
    return SyncConflict.objects.get(mobile_id=mid)


def reapply(admin_client, conflict):
    return admin_client.post(
        CONFLICTS,
        {"action": "reapply_client_version", "_selected_action": [conflict.pk]},
        follow=True,
    )


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_conflict_changelist_filters(client, admin_client):
    conflict = stale_conflict(client)
    response = admin_client.get(CONFLICTS)
    assert response.status_code == 200
    assert str(conflict.mobile_id) in response.content.decode()
    for query in (
        "domain=tasks",
        "resolution=rejected",
        "device_id=device-1",
        f"created_at__year={timezone.now().year}",
    ):
        response = admin_client.get(f"{CONFLICTS}?{query}")
        assert response.status_code == 200, query
        assert str(conflict.mobile_id) in response.content.decode(), query
    response = admin_client.get(f"{CONFLICTS}?device_id=another-device")
    assert str(conflict.mobile_id) not in response.content.decode()
    filters = response.content.decode()
    assert "By domain" in filters and "By device" in filters and "By resolution" in filters


def test_conflict_detail_shows_payloads_side_by_side(client, admin_client):
    conflict = stale_conflict(client)
    response = admin_client.get(f"{CONFLICTS}{conflict.pk}/change/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.context["payload_rows"]}
    assert rows["notes"] == {
        "name": "notes",
        "client": '"device"',
        "server": '"base notes"',
        "result": None,
        "differs": True,
    }
    assert rows["title"]["differs"] is False  # the device did not send it
    assert rows["title"]["client"] == "—" and rows["title"]["server"] == '"Server title"'
    html = response.content.decode()
    assert 'id="sync-payloads"' in html
    assert html.count('class="differs"') == 1
    assert "Re-apply the device's version" in html


def test_reapply_writes_a_new_version_through_the_orm(client, admin_client):
    conflict = stale_conflict(client)
    before = Task.objects.get(mobile_id=conflict.mobile_id)
    response = reapply(admin_client, conflict)
    assert response.status_code == 200
    [message] = messages_of(response)
    assert "applied notes as version 3" in message
    task = Task.objects.get(mobile_id=conflict.mobile_id)
    assert (task.notes, task.title, task.version) == ("device", "Server title", 3)
    assert task.change_seq > before.change_seq  # devices pull it
    assert task.field_versions["notes"] == 3
    audit = SyncConflict.objects.get(resolution=REAPPLIED)
    assert audit.user.username == "admin"
    # The history field gets an entry, as for a change a push applies: by the admin, with
    # the device's id.
    assert [e["version"] for e in task.history] == [1, 3]
    entry = task.history[-1]
    assert entry["changes"] == {"notes": "device"} and entry["device"] == "device-1"
    assert entry["user"] == audit.user.username and entry["at"].endswith("Z")
    assert (audit.client_version, audit.server_version) == (1, 2)
    assert audit.client_data == conflict.client_data
    assert audit.server_data["notes"] == "base notes"
    assert audit.result_data["notes"] == "device" and audit.result_data["version"] == 3
    # The audit row itself offers no re-apply, and doing it again changes nothing.
    page = admin_client.get(f"{CONFLICTS}{audit.pk}/change/").content.decode()
    assert "Re-apply the device" not in page
    [message] = messages_of(reapply(admin_client, conflict))
    assert "already holds the device's version" in message
    assert SyncConflict.objects.filter(resolution=REAPPLIED).count() == 1


def test_reapply_from_the_detail_page_button(client, admin_client):
    conflict = stale_conflict(client)
    response = admin_client.post(
        CONFLICTS,
        {"action": "reapply_client_version", "_selected_action": str(conflict.pk)},
    )
    assert response.status_code == 302
    assert Task.objects.get(mobile_id=conflict.mobile_id).notes == "device"


def test_reapply_refuses_invalid_data(client, admin_client):
    conflict = stale_conflict(client)
    conflict.client_data = {**conflict.client_data, "title": ""}  # say, from an older app
    conflict.save()
    [message] = messages_of(reapply(admin_client, conflict))
    assert "is not valid any more: title: This field may not be blank." in message
    task = Task.objects.get(mobile_id=conflict.mobile_id)
    assert (task.notes, task.version) == ("base notes", 2)
    assert not SyncConflict.objects.filter(resolution=REAPPLIED).exists()


def test_reapply_respects_the_state_machine(client, admin_client):
    conflict = stale_conflict(client, status="doing")
    Task.objects.filter(mobile_id=conflict.mobile_id).update(status="done")
    [message] = messages_of(reapply(admin_client, conflict))
    assert "status cannot change from done to doing (allowed from done: none)." in message
    assert Task.objects.get(mobile_id=conflict.mobile_id).status == "done"


def test_reapply_restores_a_deleted_record_and_reapplies_deletes(client, admin_client):
    conflict = stale_conflict(client)
    Task.objects.filter(mobile_id=conflict.mobile_id).delete()
    reapply(admin_client, conflict)
    task = Task.all_objects.get(mobile_id=conflict.mobile_id)
    assert (task.deleted, task.deleted_at, task.notes) == (False, None, "device")
    assert task.history[-1]["changes"] == {"notes": "device", "deleted": False}
    deletion = stale_conflict(client, deleted=True)
    reapply(admin_client, deletion)
    deleted = Task.all_objects.get(mobile_id=deletion.mobile_id)
    assert deleted.deleted is True
    assert (deleted.history[-1]["changes"], deleted.history[-1]["version"]) == (
        {"deleted": True},
        deleted.version,
    )


def test_reapply_of_a_purged_record_or_unknown_domain(client, admin_client):
    conflict = stale_conflict(client)
    Task.all_objects.filter(mobile_id=conflict.mobile_id).hard_delete()
    [message] = messages_of(reapply(admin_client, conflict))
    assert "no longer exists" in message
    conflict.domain = "retired"
    conflict.save()
    [message] = messages_of(reapply(admin_client, conflict))
    assert "'retired' is no longer declared" in message


def test_reapply_needs_the_records_change_permission(client, db):
    conflict = stale_conflict(client)
    staff = User.objects.create_user("auditor", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_syncconflict"))
    browser = Client()
    browser.force_login(staff)
    page = browser.get(f"{CONFLICTS}{conflict.pk}/change/")
    assert page.status_code == 200
    assert "Re-apply the device" not in page.content.decode()
    [message] = messages_of(reapply(browser, conflict))
    assert "you may not change testapp.Task records" in message
    assert Task.objects.get(mobile_id=conflict.mobile_id).notes == "base notes"
    staff.user_permissions.add(Permission.objects.get(codename="change_task"))
    browser.force_login(User.objects.get(pk=staff.pk))
    reapply(browser, conflict)
    assert Task.objects.get(mobile_id=conflict.mobile_id).notes == "device"


def test_idempotency_records_show_hits_and_expiry(client, admin_client):
    push(client, [], headers={"Idempotency-Key": "live"})
    push(client, [], headers={"Idempotency-Key": "live"})
    push(client, [], headers={"Idempotency-Key": "old"})
    IdempotencyRecord.objects.filter(key="old").update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    page = admin_client.get(ADMIN + "idempotencyrecord/")
    assert page.status_code == 200
    assert list(page.context["cl"].result_list.values_list("key", "hits")) == [
        ("old", 0),
        ("live", 1),
    ]
    expired = admin_client.get(ADMIN + "idempotencyrecord/?expired=yes")
    assert [r.key for r in expired.context["cl"].result_list] == ["old"]
    live = admin_client.get(ADMIN + "idempotencyrecord/?expired=no")
    assert [r.key for r in live.context["cl"].result_list] == ["live"]
    record = IdempotencyRecord.objects.get(key="live")
    detail = admin_client.get(f"{ADMIN}idempotencyrecord/{record.pk}/change/")
    assert (
        detail.status_code == 200
        and "response_body" not in detail.context["adminform"].form.fields
    )


@pytest.mark.parametrize("model", ["syncbatch", "tombstonepurge"])
def test_logs_changelist_and_detail(client, admin_client, model):
    push(client, [{"mobile_id": new_id(), "title": "x"}])
    TombstonePurge.objects.create(domain="tasks", horizon_seq=1, purged_before=timezone.now())
    page = admin_client.get(f"{ADMIN}{model}/")
    assert page.status_code == 200
    [row] = page.context["cl"].result_list
    assert admin_client.get(f"{ADMIN}{model}/{row.pk}/change/").status_code == 200
    assert admin_client.get(f"{ADMIN}{model}/add/").status_code == 403


def test_batch_log_links_to_analytics(client, admin_client):
    push(client, [])
    page = admin_client.get(ADMIN + "syncbatch/").content.decode()
    assert f'href="{ADMIN}syncbatch/analytics/"' in page
    assert SyncBatch.objects.count() == 1
