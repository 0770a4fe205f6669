"""Conflict resolution (docs/conflicts.md): every resolver, and the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_mobile_sync import signals
from django_mobile_sync.models import SyncConflict
from django_mobile_sync.resolvers import ConflictResolver, Resolution
from django_mobile_sync.service import SyncService
from tests.helpers.api import new_id, push
from tests.testapp.models import Task

EARLY = timezone.now() - timedelta(hours=2)


LATE = timezone.now() - timedelta(hours=1)


def stale_setup(client):
    """A record at version 2 (server changed title) and a device edit based on version 1."""
    mid = new_id()
    push(
        client,
        [
            {
                "mobile_id": mid,
                "title": "Base",
                "notes": "base notes",
                "client_updated_at": EARLY.isoformat(),
            }
        ],
    )
    Task.objects.filter(mobile_id=mid).update(title="Server title")
    return mid


@pytest.mark.parametrize(
    ("resolver", "bucket", "title", "notes", "resolution"),
    [
        ("reject", "conflicts", "Server title", "base notes", "rejected"),
        ("server_wins", "synced_items", "Server title", "base notes", "server_wins"),
        ("client_wins", "synced_items", "Device title", "device notes", "client_wins"),
        ("last_write_wins", "synced_items", "Device title", "device notes", "last_write_wins"),
        ("merge", "synced_items", "Server title", "device notes", "merge"),
    ],
)
def test_resolvers(client, domain_options, resolver, bucket, title, notes, resolution):
    mid = stale_setup(client)
    with domain_options(resolver=resolver):
        body = push(
            client,
            [
                {
                    "mobile_id": mid,
                    "version": 1,
                    "title": "Device title",
                    "notes": "device notes",
                    "client_updated_at": LATE.isoformat(),
                }
            ],
        ).json()
    [item] = body[bucket]
    task = Task.objects.get(mobile_id=mid)
    assert (task.title, task.notes) == (title, notes)
    if bucket == "synced_items":
        assert item["status"] == "resolved" and item["resolution"] == resolution
        assert item["server_version"] == task.version
        assert item["server_data"]["title"] == title and item["server_data"]["notes"] == notes
    else:
        assert item["status"] == "conflict" and item["server_data"]["title"] == "Server title"
    audit = SyncConflict.objects.get(mobile_id=mid)
    assert audit.resolution == resolution and audit.domain == "tasks"
    assert (audit.client_version, audit.server_version) == (1, 2)
    assert audit.client_data["title"] == "Device title"
    assert audit.server_data["title"] == "Server title"
    assert audit.device_id == "device-1" and audit.user is not None


def test_last_write_wins_keeps_server_when_client_is_older(client, domain_options):
    mid = stale_setup(client)
    Task.objects.filter(mobile_id=mid).update(client_updated_at=LATE)
    with domain_options(resolver="last_write_wins"):
        body = push(
            client,
            [
                {
                    "mobile_id": mid,
                    "version": 1,
                    "title": "Old device edit",
                    "client_updated_at": EARLY.isoformat(),
                }
            ],
        ).json()
    assert body["synced_items"][0]["status"] == "resolved"
    assert Task.objects.get(mobile_id=mid).title == "Server title"


def test_merge_applies_disjoint_fields_and_keeps_server_on_both_sides(client, domain_options):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "Base", "notes": "n", "priority": 1}])
    # Server (version 2) changes priority; device based on version 1 changes notes+priority.
    push(client, [{"mobile_id": mid, "version": 1, "priority": 5}])
    with domain_options(resolver="merge"):
        body = push(
            client, [{"mobile_id": mid, "version": 1, "notes": "device", "priority": 2}]
        ).json()
    [item] = body["synced_items"]
    task = Task.objects.get(mobile_id=mid)
    assert (task.notes, task.priority, task.version) == ("device", 5, 3)
    assert item["server_data"]["notes"] == "device" and item["server_data"]["priority"] == 5


def test_merge_keeps_record_on_stale_delete(client, domain_options):
    mid = stale_setup(client)
    with domain_options(resolver="merge"):
        body = push(client, [{"mobile_id": mid, "version": 1, "deleted": True}]).json()
    assert body["synced_items"][0]["status"] == "resolved"
    assert not Task.all_objects.get(mobile_id=mid).deleted


def test_resolved_write_still_checks_transitions(client, domain_options):
    mid = stale_setup(client)
    with domain_options(resolver="client_wins"):
        body = push(client, [{"mobile_id": mid, "version": 1, "status": "done"}]).json()
    assert body["errors"][0]["field_errors"]["status"]
    assert Task.objects.get(mobile_id=mid).status == "todo"
    assert SyncConflict.objects.get(mobile_id=mid).resolution == "client_wins"  # audited


class KeepLongestTitle(ConflictResolver):
    name = "longest"

    def resolve(self, context):
        mine = context.changes.get("title", "")
        if len(mine) > len(context.instance.title):
            return Resolution(name=self.name, changes={"title": mine})
        return Resolution(name=self.name)


def test_custom_resolver_by_import_string(client, domain_options):
    mid = stale_setup(client)
    with domain_options(resolver="tests.engine.test_resolvers.KeepLongestTitle"):
        body = push(
            client, [{"mobile_id": mid, "version": 1, "title": "A much longer device title"}]
        ).json()
    assert body["synced_items"][0]["resolution"] == "longest"
    assert Task.objects.get(mobile_id=mid).title == "A much longer device title"


def test_conflict_detected_signal(client):
    received = []

    def handler(sender, domain, conflict, **kwargs):
        received.append(conflict)

    signals.conflict_detected.connect(handler)
    try:
        mid = stale_setup(client)
        push(client, [{"mobile_id": mid, "version": 1, "title": "Device"}])
    finally:
        signals.conflict_detected.disconnect(handler)
    assert [c.mobile_id for c in received] == [mid]  # the canonical form, as stored


class StampingService(SyncService):
    def before_save(self, instance, created):
        instance.approved = True  # a server-owned field the device never sends


def test_fields_set_in_before_save_are_written(client, domain_options):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "t"}])
    Task.objects.filter(mobile_id=mid).update(approved=False)
    with domain_options(service="tests.engine.test_resolvers.StampingService"):
        push(client, [{"mobile_id": mid, "version": 2, "notes": "n"}])
    assert Task.objects.get(mobile_id=mid).approved is True
