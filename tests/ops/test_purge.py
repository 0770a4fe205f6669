"""Purging tombstones (with the purge horizon that makes old cursors 410) and expired
idempotency records: ``purge_tombstones`` and ``purge_idempotency_keys``."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from django_mobile_sync.models import IdempotencyRecord, TombstonePurge
from tests.helpers.api import new_id, push
from tests.testapp.models import Task


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_purge_tombstones(client):
    old, recent = new_id(), new_id()
    push(client, [{"mobile_id": old, "title": "a"}, {"mobile_id": recent, "title": "b"}])
    Task.objects.filter(mobile_id__in=[old, recent]).delete()
    Task.all_objects.filter(mobile_id=old).update(deleted_at=timezone.now() - timedelta(days=91))
    assert run("purge_tombstones").splitlines() == [
        "notes: purged 0 tombstone(s)",
        "checkitems: purged 0 tombstone(s)",
        "attachments: purged 0 tombstone(s)",
        "reminders: purged 0 tombstone(s)",
        "labels: purged 0 tombstone(s)",
        "sheets: purged 0 tombstone(s)",
        "tasks: purged 1 tombstone(s)",  # after the domains that point to it
        "folders: purged 0 tombstone(s)",
        "visits: purged 0 tombstone(s)",
        "routed-notes: purged 0 tombstone(s)",
    ]
    assert [str(m) for m in Task.all_objects.values_list("mobile_id", flat=True)] == [recent]
    purge = TombstonePurge.objects.get()
    assert purge.domain == "tasks" and purge.purged_count == 1
    assert run("purge_tombstones", "notes") == "notes: purged 0 tombstone(s)\n"
    with pytest.raises(CommandError, match="Unknown sync domain 'nope'; declared: tasks"):
        run("purge_tombstones", "nope")


def test_purge_idempotency_keys(client):
    push(client, [], headers={"Idempotency-Key": "a"})
    push(client, [], headers={"Idempotency-Key": "b"})
    IdempotencyRecord.objects.filter(key="a").update(expires_at=timezone.now())
    assert run("purge_idempotency_keys") == "Purged 1 expired idempotency record(s)\n"
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["b"]
