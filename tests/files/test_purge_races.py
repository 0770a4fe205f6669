"""``purge_files`` racing the writes that start referencing a file (PostgreSQL, real threads).

docs/files.md#clean-up: the purge never removes a file that a live record references once
that record is committed. Real transactions in threads, each with its own connection; one
side stops inside its transaction until the other is blocked on it (or has ended):

- *writer first*: a device's push of a record that references a file unreferenced for 30
  days has written and stops before it commits; ``purge_files`` runs meanwhile. It must
  leave the file (it skips the file the push holds).
- *purge first*: ``purge_files`` has deleted the file's row and stops before it commits; a
  push that references the file, a ``HEAD files/sha256/<hex>`` (a device deciding to skip
  its upload), or an upload of the same bytes runs meanwhile. Each must wait for the purge
  and see the file gone: a push committing first would leave a committed live record whose
  file the purge then removes; a ``200`` to the ``HEAD`` would make the device skip the
  upload of a file that is going; an upload deduplicated onto the row being deleted would
  store nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models.signals import post_delete
from django.utils import timezone
from rest_framework.test import APIClient

from django_mobile_sync.domains import SyncDomain
from django_mobile_sync.engine.push import PushBatch
from django_mobile_sync.files.models import Blob
from django_mobile_sync.files.purge import purge_files
from django_mobile_sync.service import SyncService
from tests.files.conftest import FILES, Device, digest, files_root
from tests.helpers.api import new_id, pull_all
from tests.helpers.concurrency import Worker, finish, start
from tests.testapp.models import Org, Scan, Task

pytestmark = pytest.mark.postgres

#: How long the side that goes first waits for the other to block or end.
PAUSE_SECONDS = 10.0
PHOTO = b"the pump, before it was repaired " * 300


class Race:
    """Stops the side that goes first, inside its transaction, until the other side is
    blocked by it or has ended; ``other_was`` says which."""

    def __init__(self, first: str) -> None:
        self.first = first  # "writer" or "purge"
        self.pids: dict[str, int] = {}
        self.ended = {"writer": threading.Event(), "purge": threading.Event()}
        self.paused = threading.Event()
        self.other_was = ""

    def run(self, name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        def body() -> Any:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pids[name] = int(cursor.fetchone()[0])
            try:
                return fn()
            finally:
                self.ended[name].set()

        return body

    def pause(self, name: str) -> None:
        """Called by ``name`` at its stopping point (holding whatever it has locked)."""
        if name != self.first or self.paused.is_set():
            return
        self.paused.set()
        other = "purge" if name == "writer" else "writer"
        deadline = time.monotonic() + PAUSE_SECONDS
        while time.monotonic() < deadline:
            if self.ended[other].is_set():
                self.other_was = "ended"
                return
            pid = self.pids.get(other)
            if pid is not None:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT cardinality(pg_blocking_pids(%s)) > 0", [pid])
                    if cursor.fetchone()[0]:
                        self.other_was = "blocked"
                        return
            time.sleep(0.01)
        self.other_was = "still running"

    def between(self, writer: Callable[[], Any]) -> tuple[Any, int]:
        """Run ``writer`` and ``purge_files`` (stopping after its row delete), the side
        ``first`` going first; their results."""
        sides = {"writer": self.run("writer", writer), "purge": self.run("purge", purge)}
        second = "purge" if self.first == "writer" else "writer"
        leader = start(Worker(self.first, sides[self.first]))[0]
        assert self.paused.wait(PAUSE_SECONDS), f"the {self.first} never reached its pause"
        follower = start(Worker(second, sides[second]))[0]
        results = dict(zip((self.first, second), finish(leader, follower), strict=True))
        print(f"\nwhile the {self.first} waited, the {second} was {self.other_was}")
        return results["writer"], results["purge"]


#: The race under way: what the push's hook and the purge's row delete stop at.
RACE: list[Race] = []


def purge() -> int:
    return purge_files().files


def stop_after_row_delete(sender: Any, **kwargs: Any) -> None:
    if RACE:
        RACE[0].pause("purge")


class RacingScans(SyncService):
    """A device's push that stops after its writes, before it commits, in a race."""

    def after_save(self, created: Any, updated: Any) -> None:
        super().after_save(created, updated)
        if RACE:
            RACE[0].pause("writer")


@pytest.fixture
def race() -> Iterator[Callable[[str], Race]]:
    def begin(first: str) -> Race:
        RACE.append(Race(first))
        return RACE[0]

    post_delete.connect(stop_after_row_delete, sender=Blob, dispatch_uid="purge-race")
    try:
        yield begin
    finally:
        post_delete.disconnect(sender=Blob, dispatch_uid="purge-race")
        RACE.clear()


@pytest.fixture
def old_file(ann: Device) -> Blob:
    """A file of the tenant that no record has referenced for 30 days: due for removal."""
    ann.upload(PHOTO)
    Blob.objects.update(unreferenced_since=timezone.now() - timedelta(days=30))
    return Blob.objects.get()


def device_in_thread() -> APIClient:
    api = APIClient()
    api.force_authenticate(User.objects.get(username="ann"))  # this thread's own instance
    return api


def push_scan(scans: SyncDomain, org: Org, task: Task) -> str:
    """A device's push of one record referencing the file; its item's status."""
    user = User.objects.get(username="ann")
    batch = PushBatch("default")
    service = RacingScans(scans, user=user, scope={"org": org}, device_id="camera")
    entry = {"mobile_id": new_id(), "task": str(task.mobile_id), "file": digest(PHOTO)}
    batch.add(service, [entry])
    [outcome] = batch.apply()[0].outcomes
    return str(outcome.as_dict()["status"])


def bytes_stored(blob: Blob) -> bool:
    return (files_root() / blob.name).is_file()


@pytest.mark.parametrize("first", ["writer", "purge"])
def test_a_record_pushed_while_purge_files_removes_its_file(
    race: Callable[[str], Race],
    ann: Device,
    acme: Org,
    scans: SyncDomain,
    old_file: Blob,
    first: str,
) -> None:
    task = Task.objects.create(org=acme, title="repair the pump")
    state = race(first)
    status, removed = state.between(lambda: push_scan(scans, acme, task))

    assert status == "created"
    assert Scan.objects.filter(file=old_file.sha256).exists()
    [item], _ = pull_all(ann.api, "scans")
    if first == "writer":  # the purge found the file held by the push, and left it
        assert removed == 0
        assert Blob.objects.filter(pk=old_file.pk).exists() and bytes_stored(old_file)
        assert item["file_available"] is True
        assert purge_files().files == 0  # now a committed live record references it
        assert Blob.objects.get().unreferenced_since is None
    else:  # the push waited for the removal, and its record pulls as unavailable
        assert state.other_was == "blocked", (
            "the push committed a record referencing the file while the purge's removal "
            "of the file was pending: the purge removed a file a live record references"
        )
        assert removed == 1 and not Blob.objects.exists() and not bytes_stored(old_file)
        assert item["file_available"] is False


def test_a_head_while_purge_files_removes_the_file_answers_404(
    race: Callable[[str], Race], ann: Device, old_file: Blob
) -> None:
    """A device whose ``HEAD`` answered ``200`` skips its upload: that file must stay."""
    state = race("purge")

    def head() -> int:
        return int(device_in_thread().head(f"{FILES}sha256/{old_file.sha256}").status_code)

    status, removed = state.between(head)

    assert removed == 1 and not Blob.objects.exists()
    assert state.other_was == "blocked"
    assert status == 404, "the HEAD told the device to skip uploading a file being removed"


def test_an_upload_of_the_same_bytes_while_purge_files_removes_them_stores_them_again(
    race: Callable[[str], Race], ann: Device, old_file: Blob
) -> None:
    state = race("purge")

    def upload() -> None:
        Device(device_in_thread()).upload(PHOTO, chunk=len(PHOTO))

    _, removed = state.between(upload)

    assert removed == 1 and state.other_was == "blocked"
    blob = Blob.objects.get()  # stored anew, not deduplicated onto the removed row
    assert blob.pk != old_file.pk and bytes_stored(blob)
    answer = ann.get(blob.sha256)
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == PHOTO
    assert ann.head(f"{FILES}sha256/{blob.sha256}").status_code == 200
