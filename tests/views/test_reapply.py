"""The admin's re-apply on a domain with a view (docs/views.md): the operator's decision
applies whatever the operator's own view, and its move reaches the devices as any other."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from django_mobile_sync.models import SyncConflict
from tests.helpers.admin import reapply
from tests.helpers.api import push
from tests.helpers.views import Device, create
from tests.testapp.models import Visit

pytestmark = pytest.mark.usefixtures("assigned")


def test_a_reapplied_assignment_removes_the_record_from_who_lost_it(
    boss: APIClient,
    client: APIClient,
    user: User,
    bob: User,
    client_for: Any,
    admin_client: Any,
) -> None:
    visit = create(boss, None, note="unassigned")
    bobs = Device(client_for(bob))
    bobs.sync()
    assert visit in bobs.held
    Visit.objects.filter(mobile_id=visit).update(note="server")  # version 2
    stale = push(client, [{"mobile_id": visit, "version": 1, "assignee": user.pk}], "visits")
    assert stale.json()["conflicts"], stale.content
    conflict = SyncConflict.objects.get(mobile_id=visit)
    assert reapply(admin_client, conflict).status_code == 200
    record = Visit.objects.get(mobile_id=visit)
    assert record.assignee == user and record.version == 3
    [removed] = bobs.sync()
    assert removed["removed"] and removed["mobile_id"] == visit
