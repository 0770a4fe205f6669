"""Writers racing each other on PostgreSQL, with real threads: exactly one winner among ten
pushes at one base version, readers that converge while updates race with their pulls, one
record from two creates of one ``mobile_id``, and ORM writes of stale instances that still
move the version."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.helpers import races
from tests.helpers.concurrency import (
    Worker,
    push_via,
    run,
    statuses,
)
from tests.testapp.models import Org, Task

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("via", ["service", "http"])
def test_ten_concurrent_pushes_at_one_base_version_have_exactly_one_winner(
    via: str, org: Org, user: User, tasks_domain: Any
) -> None:
    races.one_winner_among_ten(via, org, user, tasks_domain)


def test_readers_racing_with_updates_end_with_the_latest_version_of_every_record(
    org: Org, user: User, tasks_domain: Any
) -> None:
    races.readers_converge(org, user, tasks_domain)


@pytest.mark.parametrize("via", ["http", "service"])
def test_concurrent_creates_of_one_mobile_id_make_one_record_and_no_500(
    via: str, org: Org, user: User, tasks_domain: Any
) -> None:
    races.one_create_wins(via, org, user, tasks_domain)


@pytest.mark.parametrize(
    ("stale_write", "other_writer"),
    [("save", "push"), ("save", "orm-save"), ("bulk_update", "push")],
)
def test_an_orm_write_of_an_instance_loaded_before_other_writes_still_moves_the_version(
    stale_write: str, other_writer: str, org: Org, user: User, tasks_domain: Any
) -> None:
    """Spec §2: version is "+1 per accepted change", and ORM writes must move it.

    Business code loads a record, another writer (a device's push, or another save())
    changes it twice, then the business code writes the one field it changed
    (``save(update_fields=["notes"])`` or ``bulk_update(..., ["notes"])``). Three accepted
    changes after version 1 must give version 4, and the field versions the merge resolver
    relies on must keep the other writer's changes.

    ``bulk_update()`` passes (Django runs it through ``SyncQuerySet.update()``, which writes
    ``version + 1`` in SQL). ``save()`` fails today: it stamps the in-memory version + 1
    and the in-memory ``field_versions``, so the record goes back to version 2. A device
    that holds version 3 then has its next push at base 3 refused as "ahead of the
    server", two different states share version 2, and ``field_versions`` forgets that
    the title changed at versions 2 and 3.
    """
    record = Task.objects.create(org=org, title="v1")
    mid = str(record.mobile_id)
    loaded, others_done = threading.Event(), threading.Event()

    def business_code() -> None:
        task = Task.objects.get(pk=record.pk)
        loaded.set()
        assert others_done.wait(10)
        task.notes = "set by business code"
        if stale_write == "save":
            task.save(update_fields=["notes"])
        else:
            Task.objects.bulk_update([task], ["notes"])

    def other() -> None:
        assert loaded.wait(10)
        for n in range(2):
            if other_writer == "push":
                version = Task.objects.get(pk=record.pk).version
                body = push_via(
                    "service",
                    tasks_domain,
                    user.pk,
                    org,
                    [{"mobile_id": mid, "version": version, "title": f"device edit {n}"}],
                    "device",
                )
                assert statuses(body) == ["updated"], body
            else:
                task = Task.objects.get(pk=record.pk)
                task.title = f"other save {n}"
                task.save()
        others_done.set()

    run(Worker("business-code", business_code), Worker(other_writer, other))

    stored = Task.objects.get(pk=record.pk)
    assert stored.notes == "set by business code"
    problems = []
    if stored.version != 4:
        problems.append(f"three accepted changes after version 1 left version {stored.version}")
    title_changed_at = stored.field_versions.get("title")
    if (title_changed_at, stored.field_versions.get("notes")) != (3, 4):
        problems.append(
            f"field_versions is {stored.field_versions}, not title at 3 and notes at 4"
        )
    assert not problems, (
        f"{stale_write}() of a stale instance: {'; '.join(problems)} "
        "(SyncableModelMixin.save -> stamp_write uses the in-memory version and field_versions)"
    )
