"""Tenancy (docs/domains.md#tenancy): no read, update, delete or leak across tenants;
database routing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from django_mobile_sync.exceptions import TenantFieldChanged
from tests.helpers.api import make_user, new_id, pull, pull_all, push
from tests.testapp.models import Note, Task


@pytest.fixture
def theirs(client_for, other_user):
    """A record of the other tenant, and its mobile_id."""
    mid = new_id()
    push(client_for(other_user), [{"mobile_id": mid, "title": "Secret", "notes": "classified"}])
    return mid


def test_pull_never_shows_other_tenant(client, theirs):
    items, _ = pull_all(client)
    assert items == []


def test_guessed_id_update_creates_independent_record(client, org, other_org, theirs):
    body = push(client, [{"mobile_id": theirs, "version": 1, "title": "Hijack"}]).json()
    assert body["synced_items"][0]["status"] == "created"
    assert "Secret" not in str(body)
    assert Task.objects.get(mobile_id=theirs, org=other_org).title == "Secret"
    assert Task.objects.get(mobile_id=theirs, org=org).title == "Hijack"


def test_guessed_id_delete_changes_nothing(client, other_org, theirs):
    body = push(client, [{"mobile_id": theirs, "version": 1, "deleted": True}]).json()
    assert body["synced_items"][0] == {
        "mobile_id": theirs,
        "status": "deleted",
        "server_version": 0,
    }
    task = Task.objects.get(mobile_id=theirs, org=other_org)
    assert not task.deleted and task.version == 1


def test_stale_guess_reveals_nothing(client, theirs):
    body = push(client, [{"mobile_id": theirs, "version": 0, "title": "x"}]).json()
    assert "classified" not in str(body) and "Secret" not in str(body)


def test_user_without_tenant_is_forbidden(db, client_for):
    lonely = make_user("lonely", None)
    assert push(client_for(lonely), []).status_code == 403
    assert pull(client_for(lonely)).status_code == 403


def test_records_are_stamped_with_the_tenant(client, org):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "x"}])
    assert Task.objects.get(mobile_id=mid).org == org


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
def test_database_alias_per_request(client_for):
    routed = make_user("other-router", None)
    local = make_user("local-router", None)
    mid_other, mid_local = new_id(), new_id()
    assert (
        push(
            client_for(routed), [{"mobile_id": mid_other, "text": "far"}], domain="routed-notes"
        ).status_code
        == 200
    )
    push(client_for(local), [{"mobile_id": mid_local, "text": "near"}], domain="routed-notes")
    assert Note.objects.using("other").filter(mobile_id=mid_other).exists()
    assert not Note.objects.using("default").filter(mobile_id=mid_other).exists()
    assert Note.objects.using("default").filter(mobile_id=mid_local).exists()
    from django_mobile_sync.models import SyncBatch

    assert SyncBatch.objects.using("other").count() == 1
    items, _ = pull_all(client_for(routed), domain="routed-notes")
    assert [i["mobile_id"] for i in items] == [mid_other]
    # The same push through the routed domain is a retry on the "other" database.
    again = push(
        client_for(routed), [{"mobile_id": mid_other, "text": "far"}], domain="routed-notes"
    )
    assert again.json()["synced_items"][0]["status"] == "unchanged"


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
