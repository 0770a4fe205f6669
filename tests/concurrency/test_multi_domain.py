"""A multi-domain pull misses nothing while multi-domain pushes commit out of order (PostgreSQL).

A slow writer opens its transaction first (its transaction id is the oldest), writes a task
and its checkitems, and keeps the transaction open while fast writers push tasks and
checkitems together and commit. A device follows the feed (``GET changes/``) the whole time
and once more after every writer is done: it must end with the latest version of every
record of both domains, never see a version go backwards, and never see a checkitem before
the latest state of its task that its window covers.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from django_mobile_sync.engine.push import PushBatch
from django_mobile_sync.service import SyncService
from tests.helpers.api import declared_domain, new_id
from tests.helpers.concurrency import (
    Worker,
    finish,
    sleep_in_transaction,
    start,
    wait_until_no_older_transaction,
)
from tests.testapp.models import Checkitem, Org, Task

pytestmark = pytest.mark.postgres


CHANGES = "/api/sync/changes/"


class SlowAfterWriting(SyncService):
    """Keeps the push's transaction open after its writes (a slow ``after_save`` hook)."""

    wrote: threading.Event

    def after_save(self, created: Any, updated: Any) -> None:
        if self.domain.name == "checkitems":
            self.wrote.set()
            sleep_in_transaction(1.5)


def push_family(user: User, org: Org, cls: type[SyncService], n: int) -> None:
    """A new task and ``n`` checkitems of it, in one multi-domain transaction."""
    user = User.objects.get(pk=user.pk)
    task = new_id()
    batch = PushBatch("default")
    tasks = cls(declared_domain("tasks"), user=user, scope={"org": org}, device_id="w")
    items = cls(declared_domain("checkitems"), user=user, scope={"org": org}, device_id="w")
    batch.add(items, [{"mobile_id": new_id(), "task": task, "label": str(i)} for i in range(n)])
    batch.add(tasks, [{"mobile_id": task, "title": "family"}])
    batch.apply()


class Device:
    def __init__(self, user: User) -> None:
        self.api = APIClient()
        self.api.force_authenticate(user)
        self.cursor: str | None = None
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.problems: list[str] = []

    def catch_up(self) -> None:
        while True:
            params: dict[str, Any] = {"domains": "tasks,checkitems", "limit": 7}
            if self.cursor:
                params["cursor"] = self.cursor
            page = self.api.get(CHANGES, params)
            assert page.status_code == 200, page.content
            body = page.json()
            for domain, items in body["changes"].items():
                for item in items:
                    if domain == "checkitems" and ("tasks", item["task"]) not in self.records:
                        self.problems.append(f"checkitem {item['mobile_id']} before its task")
                    key = (domain, item["mobile_id"])
                    held = self.records.get(key)
                    if held is not None and item["version"] < held["version"]:
                        self.problems.append(f"{key} went back to version {item['version']}")
                    self.records[key] = item
            self.cursor = body["next_cursor"]
            if not body["has_more"]:
                return


def test_a_multi_domain_feed_misses_nothing_while_transactions_commit_out_of_order(org, user):
    device = Device(user)
    device.catch_up()
    SlowAfterWriting.wrote = threading.Event()
    slow = start(Worker("slow", push_family, user, org, SlowAfterWriting, 5))[0]
    assert SlowAfterWriting.wrote.wait(10)
    fast = start(*(Worker(f"fast-{i}", push_family, user, org, SyncService, 3) for i in range(4)))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # pull while the writers commit out of order
        device.catch_up()
        time.sleep(0.05)
    finish(slow, *fast)
    wait_until_no_older_transaction(org)
    device.catch_up()

    expected = {("tasks", str(t.mobile_id)): t.version for t in Task.all_objects.filter(org=org)}
    expected |= {
        ("checkitems", str(c.mobile_id)): c.version for c in Checkitem.all_objects.filter(org=org)
    }
    held = {key: item["version"] for key, item in device.records.items()}
    assert held == expected, f"missed: {sorted(set(expected) - set(held))}"
    assert len(expected) == (1 + 5) + 4 * (1 + 3)
    assert device.problems == []
