"""The push engine's public unit of work, the pull API, live settings and DRF's override levels.

- ``PushBatch`` applies the entries of two domains in one transaction, all or nothing, with
  a query count that does not grow with the batch;
- the admin's re-apply and the engine are one apply path;
- ``ChangeFeed`` pulls several domains after one position;
- ``override_settings(MOBILE_SYNC=...)`` takes effect at once;
- DRF classes come from the global settings, the domain, or a subclassed view.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import AutoField
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIRequestFactory, force_authenticate

from django_mobile_sync.admin.reapply import REAPPLIED
from django_mobile_sync.domains import SyncDomain, get_domain
from django_mobile_sync.engine.cursor import FEED_START
from django_mobile_sync.engine.domain_work import ApplyMode
from django_mobile_sync.engine.outcomes import ItemStatus
from django_mobile_sync.engine.pull import ChangeFeed
from django_mobile_sync.engine.push import PushBatch
from django_mobile_sync.models import SyncBatch, SyncConflict
from django_mobile_sync.service import SyncService
from django_mobile_sync.views import PushView
from tests.helpers.admin import reapply, stale_conflict
from tests.helpers.api import declared_domain, new_id, pull, push
from tests.testapp.models import Note, Task
from tests.testapp.permissions import DenyAll


def services(user: User, org: Any, cls: type[SyncService] = SyncService) -> list[SyncService]:
    tasks = cls(declared_domain("tasks"), user=user, scope={"org": org}, device_id="dev")
    notes = cls(declared_domain("notes"), user=user, device_id="dev")
    return [tasks, notes]


def apply_two(user: User, org: Any, n: int, cls: type[SyncService] = SyncService) -> Any:
    tasks, notes = services(user, org, cls)
    batch = PushBatch("default")
    batch.add(tasks, [{"mobile_id": new_id(), "title": f"task {i}"} for i in range(n)])
    batch.add(notes, [{"mobile_id": new_id(), "text": f"note {i}"} for i in range(n)])
    return batch.apply()


def test_two_domains_apply_in_one_batch(user, org):
    task_result, note_result = apply_two(user, org, 3)
    assert [o.status for o in task_result.outcomes] == [ItemStatus.CREATED] * 3
    assert [o.status for o in note_result.outcomes] == [ItemStatus.CREATED] * 3
    stamps = {*Task.objects.values_list("change_seq", flat=True)}
    stamps |= {*Note.objects.values_list("change_seq", flat=True)}
    assert len(stamps) == 1  # one transaction, one clock value
    assert sorted(SyncBatch.objects.values_list("domain", "created")) == [
        ("notes", 3),
        ("tasks", 3),
    ]


class CrashBeforeWriting(SyncService):
    def before_save(self, instance: Any, created: bool) -> None:
        if self.domain.name == "notes":
            raise RuntimeError("the process dies while the notes are staged")


class CrashAfterWriting(SyncService):
    def after_save(self, created: Any, updated: Any) -> None:
        if self.domain.name == "notes":
            raise RuntimeError("the process dies after both domains were written")


@pytest.mark.parametrize("crash", [CrashBeforeWriting, CrashAfterWriting])
def test_a_crash_midway_leaves_nothing_of_either_domain(user, org, crash):
    with pytest.raises(RuntimeError, match="dies"):
        apply_two(user, org, 5, crash)
    assert Task.all_objects.count() == Note.all_objects.count() == 0
    assert not SyncBatch.objects.exists() and not SyncConflict.objects.exists()


def insert_statements(model: Any, n: int) -> int:
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoField)]
    return math.ceil(n / max(connection.ops.bulk_batch_size(fields, [None] * n), 1))


def test_a_two_domain_batch_costs_the_same_queries_for_10_and_1000(user, org):
    apply_two(user, org, 1)  # warm-up: the SQLite clock row, the scope's lookups

    def counted(n: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            results = apply_two(user, org, n)
        assert all(o.status is ItemStatus.CREATED for r in results for o in r.outcomes)
        return len(queries)

    small, large = counted(10), counted(1000)
    chunks = sum(insert_statements(m, 1000) - insert_statements(m, 10) for m in (Task, Note))
    assert large == small + chunks, (small, large, chunks)
    if connection.vendor == "postgresql":
        assert chunks == 0


def comparable(task: Task) -> dict[str, Any]:
    history = [{k: v for k, v in e.items() if k != "at"} for e in task.history]
    return {
        "title": task.title,
        "notes": task.notes,
        "version": task.version,
        "deleted": task.deleted,
        "field_versions": task.field_versions,
        "history": history,
    }


def audit_of(mobile_id: Any) -> dict[str, Any]:
    audit = SyncConflict.objects.get(mobile_id=mobile_id, resolution=REAPPLIED)
    fields = ("client_version", "server_version", "resolution", "device_id", "user_id")
    row = {name: getattr(audit, name) for name in fields}
    strip = ("mobile_id", "updated_at", "history")
    for name in ("client_data", "server_data", "result_data"):
        row[name] = {k: v for k, v in getattr(audit, name).items() if k not in strip}
    return row


def test_the_engine_and_the_admin_s_reapply_are_one_apply_path(client, admin_client):
    admin = User.objects.get(username="admin")
    through_admin, through_engine = stale_conflict(client), stale_conflict(client)
    reapply(admin_client, through_admin)

    domain = get_domain("tasks")
    record = Task.objects.get(mobile_id=through_engine.mobile_id)
    service = SyncService(
        domain, user=admin, device_id=through_engine.device_id, scope={"org": record.org}
    )
    batch = PushBatch("default", log=False)
    batch.add(service, [through_engine.client_data], ApplyMode.OVERRIDE)
    [result] = batch.apply()
    assert [o.status for o in result.outcomes] == [ItemStatus.UPDATED]

    admin_task = Task.objects.get(mobile_id=through_admin.mobile_id)
    engine_task = Task.objects.get(mobile_id=through_engine.mobile_id)
    assert comparable(admin_task) == comparable(engine_task)
    assert audit_of(through_admin.mobile_id) == audit_of(through_engine.mobile_id)


def test_a_change_feed_pulls_two_domains_after_one_position(client, user, org):
    push(client, [{"mobile_id": new_id(), "title": f"t{i}"} for i in range(3)])
    push(client, [{"mobile_id": new_id(), "text": f"n{i}"} for i in range(2)], domain="notes")
    feed = ChangeFeed(services(user, org))
    first = feed.read(FEED_START, limit=4)
    assert [len(first.changes["tasks"]), len(first.changes["notes"])] == [3, 1]
    assert first.has_more
    second = feed.read(first.position, limit=4)
    assert [len(second.changes["tasks"]), len(second.changes["notes"])] == [0, 1]
    assert not second.has_more
    push(client, [{"mobile_id": new_id(), "title": "later"}])
    third = feed.read(second.position, limit=4)
    assert [i["title"] for i in third.changes["tasks"]] == ["later"] and not third.has_more
    assert feed.read(third.position, limit=4).changes == {"tasks": [], "notes": []}


class NamedService(SyncService):
    pass


def test_override_settings_takes_effect_at_once(client, org):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "base"}])
    Task.objects.filter(mobile_id=mid).update(notes="server edit")
    stale = [{"mobile_id": mid, "version": 1, "title": "device"}]
    assert push(client, stale).json()["conflicts"]  # the default resolver: reject
    domains = [
        *settings.MOBILE_SYNC["DOMAINS"][:1],
        SyncDomain(name="late", model="testapp.Note"),
    ]
    overrides = {
        "DEFAULT_RESOLVER": "server_wins",
        "DEFAULT_SERVICE_CLASS": "tests.engine.test_engine.NamedService",
        "MAX_BATCH_SIZE": 1,
        "DOMAINS": domains,
    }
    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, **overrides}):
        body = push(client, stale).json()
        assert body["synced_items"][0]["resolution"] == "server_wins"
        assert get_domain("tasks").service_class is NamedService
        assert push(client, stale * 2).json()["code"] == "batch_too_large"
        assert pull(client, "late").status_code == 200
    assert push(client, stale).json()["conflicts"]  # back to reject
    assert get_domain("tasks").service_class is SyncService
    assert pull(client, "late").status_code == 404


class AllowPushesOnly(PushView):
    permission_classes = [DenyAll]


def test_drf_classes_come_from_settings_then_the_domain_then_the_view(client, domain_options):
    assert push(client, []).status_code == 200  # MOBILE_SYNC's IsAuthenticated
    with override_settings(
        MOBILE_SYNC={
            **settings.MOBILE_SYNC,
            "PERMISSION_CLASSES": ["tests.testapp.permissions.DenyAll"],
        }
    ):
        assert push(client, []).status_code == 403
        with domain_options(permission_classes=["rest_framework.permissions.AllowAny"]):
            assert push(client, []).status_code == 200  # the domain's wins
    with domain_options(throttle_classes=[]):
        request = APIRequestFactory().post("/", {"entries": []}, format="json")
        force_authenticate(request, User.objects.first())
        view = AllowPushesOnly.as_view(domain_name="tasks")
        assert view(request).status_code == 403  # the subclass's attribute wins
