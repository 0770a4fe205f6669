"""The WatermelonDB ``timestamp`` keeps the no-missed-change guarantee on PostgreSQL, with
transactions that commit out of order, and a device's own writes stay its own while a
long transaction holds the horizon (real threads, each on its own connection)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import override_settings

from tests.helpers.api import new_id, push
from tests.helpers.watermelon import (
    TABLES,
    change_set,
    ids,
    pull,
    push_changes,
    watermelon_settings,
)
from tests.testapp.models import Task

pytestmark = pytest.mark.postgres


class SlowWriter(threading.Thread):
    """Creates a task in a transaction it keeps open until ``release`` is set."""

    def __init__(self, org: Any) -> None:
        super().__init__(daemon=True)
        self.org, self.mobile_id = org, new_id()
        self.wrote, self.release = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                Task.objects.create(org=self.org, mobile_id=self.mobile_id, title="slow")
                self.wrote.set()
                assert self.release.wait(20)
        except BaseException as exc:  # reported by the test
            self.error = exc
            self.wrote.set()
        finally:
            connections.close_all()


def test_a_transaction_committing_after_a_later_one_is_not_skipped(transactional_db, client, org):
    with override_settings(MOBILE_SYNC={**watermelon_settings(), "WATERMELON": TABLES}):
        slow = SlowWriter(org)
        slow.start()
        assert slow.wrote.wait(20)
        fast = new_id()
        Task.objects.create(org=org, mobile_id=fast, title="fast")  # commits first

        first = pull(client)  # the slow transaction is still open
        seen = ids(first["changes"]["tasks"]["created"])
        assert slow.mobile_id not in seen
        slow.release.set()
        slow.join(20)
        assert slow.error is None, slow.error

        second = pull(client, first["timestamp"], device="another-phone")
        seen += ids(second["changes"]["tasks"]["created"])
        assert sorted(seen) == sorted([fast, slow.mobile_id])  # each once, none skipped
        assert second["timestamp"] >= first["timestamp"]


def test_a_device_edits_its_own_new_records_while_a_long_transaction_holds_the_horizon(
    transactional_db, client, org
):
    """Why a device's own pushes are exempt: its next timestamp cannot pass them yet."""
    with override_settings(MOBILE_SYNC={**watermelon_settings(), "WATERMELON": TABLES}):
        first, second, elsewhere = new_id(), new_id(), new_id()
        phone = pull(client, device="phone")["timestamp"]
        push(client, [{"mobile_id": elsewhere, "title": "from the web"}])
        slow = SlowWriter(org)  # a transaction of this database, open the whole time
        slow.start()
        assert slow.wrote.wait(20)
        try:
            created = [{"id": first, "title": "one"}, {"id": second, "title": "two"}]
            pushed = push_changes(client, phone, {"tasks": change_set(created=created)})
            assert pushed.status_code == 200, pushed.content
            body = pull(client, phone)
            assert ids(body["changes"]["tasks"]["created"]) == [elsewhere]  # not past slow
            assert body["timestamp"] > phone
            # The phone edits its new record and syncs: its own push is no change "since".
            edited = {"tasks": change_set(updated=[{"id": first, "title": "one, edited"}])}
            response = push_changes(client, body["timestamp"], edited)
            assert response.status_code == 200, response.content
        finally:
            slow.release.set()
            slow.join(20)
        assert slow.error is None, slow.error
        assert Task.objects.get(mobile_id=first).title == "one, edited"

        tasks = pull(client, body["timestamp"])["changes"]["tasks"]
        assert ids(tasks["created"]) == [slow.mobile_id]  # another writer's
        assert ids(tasks["updated"]) == sorted([first, second])  # the phone's own
