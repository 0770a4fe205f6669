"""The admin's re-apply of a device's version from the audit log: through the push engine,
within the tenant the audit row recorded, with the record's change permission."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from django_mobile_sync.admin.reapply import REAPPLIED
from django_mobile_sync.domains import get_domain
from django_mobile_sync.models import SyncConflict
from django_mobile_sync.ops.purge import purge_tombstones
from tests.helpers.admin import CONFLICTS, messages_of, reapply, stale_conflict
from tests.helpers.api import make_user, new_id, push
from tests.testapp.models import Org, Task


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


def test_reapply_button_is_styled_as_an_object_tool(client, admin_client):
    conflict = stale_conflict(client)
    html = admin_client.get(f"{CONFLICTS}{conflict.pk}/change/").content.decode()
    assert '<button type="submit" class="sync-reapply">' in html
    assert ".object-tools button.sync-reapply {" in html  # the browser test compares the looks


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
