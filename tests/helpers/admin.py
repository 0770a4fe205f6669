"""The admin in tests: a stale device edit's audit row, and its re-apply action."""

from __future__ import annotations

from django_mobile_sync.models import SyncConflict
from tests.helpers.api import new_id, push
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
