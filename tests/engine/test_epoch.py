"""Cursors and the epoch of their database's clock (docs/cursor.md, "Epochs").

A cursor records the database it was read from, the cluster (PostgreSQL's system
identifier) and the database's last reset. Another database is a 400; another cluster, a
mark the primary's clock has not reached (a lost history) or an earlier reset is a 410.
``manage.py sync_reset`` re-stamps rows stamped above the clock and expires every cursor.

The same scenarios against real servers (a failover that lost transactions, a dump
restored into another cluster) are in ``test_replicas_postgres.py``.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.core.management import call_command
from django.db import connection
from django.db.models import F, QuerySet
from django.test import override_settings
from django.utils import timezone

from django_mobile_sync.checks import check_settings
from django_mobile_sync.conf import sync_settings
from django_mobile_sync.engine.cursor import Origin, Position, decode_cursor, encode_cursor
from django_mobile_sync.engine.epoch import reset_database, rows_above_clock
from django_mobile_sync.models import ChangeClock, TombstonePurge
from django_mobile_sync.ops.doctor import ERROR, epoch_findings
from django_mobile_sync.records.clock import read_clock
from tests.helpers.api import new_id, pull, pull_all, push
from tests.testapp.models import Task


def cursor_of(response: Any) -> str:
    assert response.status_code == 200, response.content
    return str(response.json()["next_cursor"])


def position_of(token: str, org: Any) -> Position:
    return decode_cursor(token, "tasks", {"org": org})


def reissued(token: str, org: Any, **changes: Any) -> str:
    """``token`` with a changed position, signed as the server signs: what a server of
    another epoch (another cluster, a lost future) would have issued."""
    position = position_of(token, org)
    origin = replace(position.origin, **changes.pop("origin", {}))
    return encode_cursor("tasks", {"org": org}, replace(position, origin=origin, **changes))


def test_a_cursor_records_its_database_and_epoch(client: Any, org: Any) -> None:
    push(client, [{"mobile_id": new_id(), "title": "x"}])
    _, token = pull_all(client)
    origin = position_of(token, org).origin
    reading = read_clock("default")
    assert origin == Origin("default", reading.cluster, reading.reset)
    assert bool(origin.cluster) == (connection.vendor == "postgresql")
    payload = signing.loads(token, salt=sync_settings.CURSOR_SALT)
    assert (payload["a"], payload["e"], payload["r"]) == ("default", reading.cluster, 0)


def test_the_start_of_the_feed_is_bound_to_nothing(client: Any, org: Any) -> None:
    """The cursor a push echoes to a device that never pulled works on any database."""
    body = push(client, [], cursor="").json()
    start = position_of(body["cursor"], org)
    assert start.seq == -1 and not start.origin.bound
    assert "a" not in signing.loads(body["cursor"], salt=sync_settings.CURSOR_SALT)
    assert pull(client, cursor=body["cursor"]).status_code == 200


def test_a_malformed_origin_is_a_400(client: Any, org: Any) -> None:
    push(client, [{"mobile_id": new_id(), "title": "x"}])
    _, token = pull_all(client)
    payload = signing.loads(token, salt=sync_settings.CURSOR_SALT)
    forged = signing.dumps({**payload, "r": "1"}, salt=sync_settings.CURSOR_SALT)
    response = pull(client, cursor=forged)
    assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"


def test_a_mark_above_the_clock_is_a_lost_history_and_a_410(client: Any, org: Any) -> None:
    """A device saw changes the database no longer has: it resyncs."""
    push(client, [{"mobile_id": new_id(), "title": "x"}])
    _, token = pull_all(client)
    ahead = reissued(token, org, purge=read_clock("default").clock + 1000)
    response = pull(client, cursor=ahead)
    assert response.status_code == 410, response.content
    assert response.json()["reset_required"] is True
    assert "lost changes" in response.json()["detail"]


@pytest.mark.sqlite  # PostgreSQL's clock: tests/concurrency/test_replicas.py
@pytest.mark.django_db(transaction=True)
def test_an_older_sqlite_file_makes_later_cursors_410(client: Any, org: Any) -> None:
    """SQLite's clock is a counter: restoring an older file puts it back."""
    push(client, [{"mobile_id": new_id(), "title": "before the backup"}])
    push(client, [{"mobile_id": new_id(), "title": "after the backup"}])
    _, token = pull_all(client)
    ChangeClock.objects.filter(pk=1).update(value=F("value") - 1)  # the older file's counter
    response = pull(client, cursor=token)
    assert response.status_code == 410 and "lost changes" in response.json()["detail"]


@pytest.mark.postgres
def test_a_cursor_of_another_cluster_is_a_410(client: Any, org: Any) -> None:
    push(client, [{"mobile_id": new_id(), "title": "x"}])
    _, token = pull_all(client)
    other = reissued(token, org, origin={"cluster": "1234567890"})
    response = pull(client, cursor=other)
    assert response.status_code == 410, response.content
    assert "another server" in response.json()["detail"]


def test_sync_reset_expires_every_earlier_cursor(client: Any, org: Any) -> None:
    mids = sorted(new_id() for _ in range(3))
    push(client, [{"mobile_id": m, "title": "kept"} for m in mids])
    _, before = pull_all(client)
    out = io.StringIO()
    call_command("sync_reset", stdout=out)
    assert "every earlier cursor answers 410" in out.getvalue()
    response = pull(client, cursor=before)
    assert response.status_code == 410 and "reset" in response.json()["detail"]
    items, after = pull_all(client)  # the resync
    assert sorted(i["mobile_id"] for i in items) == mids
    assert position_of(after, org).origin.reset == TombstonePurge.objects.get(domain="*").pk
    assert pull(client, cursor=after).status_code == 200
    assert str(TombstonePurge.objects.get(domain="*")).startswith("reset of every cursor")


def test_sync_reset_re_stamps_rows_from_above_the_clock_without_touching_versions(
    client: Any, org: Any
) -> None:
    """Rows restored from a cluster whose transaction ids were higher: pulls hold them
    back until the clock passes them; the reset serves them at once."""
    mids = sorted(new_id() for _ in range(2))
    push(client, [{"mobile_id": m, "title": "restored"} for m in mids])
    high = read_clock("default").clock + 10_000
    # What a restore leaves behind: rows, and a purge, stamped by another cluster's clock.
    QuerySet(model=Task).filter(mobile_id__in=mids).update(change_seq=high)  # no stamping
    TombstonePurge.objects.create(
        domain="tasks",
        horizon_seq=high + 1,
        seq=high,
        purged_before=timezone.now() - timedelta(days=1),
    )
    assert pull_all(client)[0] == []  # held above the horizon
    assert rows_above_clock("default") == {"testapp.Task": 2}
    [finding] = [f for f in epoch_findings("default") if f.level == ERROR]
    assert "testapp.Task: 2" in finding.message and "sync_reset" in finding.fix
    versions = dict(Task.all_objects.values_list("mobile_id", "version"))

    report = reset_database("default")

    assert report.restamped == {"testapp.Task": 2} and report.purges == 1
    assert rows_above_clock("default") == {}
    items, token = pull_all(client)
    assert sorted(i["mobile_id"] for i in items) == mids
    assert dict(Task.all_objects.values_list("mobile_id", "version")) == versions
    # The old purge no longer expires the new epoch's cursors.
    assert pull(client, cursor=token).status_code == 200
    assert not [f for f in epoch_findings("default") if f.level == ERROR]


def test_pull_databases_are_checked_at_start_up(settings: Any) -> None:
    def errors(value: Any) -> list[str]:
        with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "PULL_DATABASES": value}):
            return [f"{m.id}: {m.msg}" for m in check_settings()]

    assert errors({"default": "other"}) == []
    assert errors({"default": ["other"]}) == []
    assert errors("other") == [
        "django_mobile_sync.E014: MOBILE_SYNC['PULL_DATABASES'] must be a dict of database "
        "aliases: {primary: standby or [standbys]}, not 'other'."
    ]
    assert errors({"default": "nowhere"}) == [
        "django_mobile_sync.E018: MOBILE_SYNC['PULL_DATABASES'] names the database "
        "'nowhere', which is not in DATABASES."
    ]
    assert errors({"default": ["default"]}) == [
        "django_mobile_sync.E018: MOBILE_SYNC['PULL_DATABASES']['default'] names 'default' itself."
    ]
