"""Pulls from a real hot standby, and cursors across a failover and a restore.

The suite starts its own servers (``tests/helpers/pgservers.py``): a streaming replica of the test
cluster made with ``pg_basebackup -R``, a second one that is cut off and promoted (a
failover that lost the last transactions), and a new cluster a dump is restored into.
The proofs these tests check are in docs/cursor.md ("Pulls from a hot standby", "Epochs").

The no-missed-change scenario with pulls served by the standby under concurrent,
out-of-order writers is ``tests/concurrency/test_missed_changes.py`` (its ``[replica]``
case).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import override_settings

from django_mobile_sync.engine import replicas
from django_mobile_sync.engine.cursor import FEED_START, START, decode_cursor
from django_mobile_sync.engine.pull import ChangeFeed, read_page, read_page_on
from django_mobile_sync.exceptions import CursorExpired, ReadOnPrimary
from django_mobile_sync.records.clock import DATABASE_HORIZON, read_clock
from django_mobile_sync.service import SyncService
from tests.helpers.api import declared_domain, new_id, pull, push
from tests.helpers.pgservers import Primary, Scratch, Standby, free_port, pointing
from tests.testapp.models import Note, Org

pytestmark = [pytest.mark.postgres, pytest.mark.replica]


@pytest.fixture
def pulls_from_replica(replica: str) -> Iterator[str]:
    with override_settings(
        MOBILE_SYNC={**settings.MOBILE_SYNC, "PULL_DATABASES": {"default": replica}}
    ):
        # What a pull on the primary records, and a standby must share: its identity.
        replicas.check_reader("default", "default", read_clock("default"))
        yield replica


def eventually(read: Callable[[], list[str]], expected: list[str], timeout: float = 20) -> None:
    """Wait until ``read()`` gives ``expected``.

    A standby's horizon is cluster-wide: a transaction another test run holds open on the
    shared cluster delays what it serves (docs/cursor.md, "What a standby costs").
    """
    deadline = time.monotonic() + timeout
    while (found := read()) != expected:
        assert time.monotonic() < deadline, f"still {found}, not {expected}, after {timeout}s"
        time.sleep(0.1)


def tasks_service(user: User, org: Org) -> SyncService:
    return SyncService(declared_domain("tasks"), user=user, scope={"org": org}, device_id="d")


def served(page: Any) -> list[str]:
    return [item["mobile_id"] for item in page.items]


def primary_transaction(primary: Primary, dbname: str | None = None) -> psycopg.Connection[Any]:
    """A session on the primary holding a transaction with an id (and no write)."""
    conn = psycopg.connect(
        host=primary.host, port=primary.port, user=primary.user, dbname=dbname or primary.dbname
    )
    conn.execute("SELECT pg_current_xact_id()")
    return conn


def test_a_standby_snapshot_lists_no_running_transaction_but_its_xmin_holds_them(
    primary: Primary, standby: Standby
) -> None:
    """docs/cursor.md, "What a standby reads": why the per-database horizon is not used on a
    standby, and why its ``xmin`` is.

    A transaction takes an id on the primary and writes nothing (the standby has not seen
    its id in any WAL record), then a later transaction commits. On the standby the
    snapshot's ``xip`` is empty, yet ``xmin`` is the open transaction's id: the standby
    assumes every id below the newest one it has seen is running until it replays its end.
    """
    held = primary_transaction(primary)
    try:
        [(xid,)] = held.execute("SELECT pg_current_xact_id()::text::bigint").fetchall()
        with psycopg.connect(
            host=primary.host, port=primary.port, user=primary.user, dbname=primary.dbname
        ) as later:
            later.execute("SELECT pg_current_xact_id()")
            later.commit()
        standby.wait_until_caught_up()
        [(xmin, xips, in_recovery)] = standby.sql(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
            "(SELECT count(*) FROM pg_snapshot_xip(pg_current_snapshot())), "
            "pg_is_in_recovery()"
        )
        assert in_recovery
        assert xips == 0
        assert xmin <= xid
    finally:
        held.rollback()
        held.close()


def test_the_library_reads_the_standby_horizon_below_a_transaction_open_on_the_primary(
    primary: Primary, standby: Standby, replica: str
) -> None:
    """On a standby the per-database formula would answer ``xmax``, past the transaction
    still open on the primary; the library reads ``xmin`` there, whatever PULL_HORIZON."""
    held = primary_transaction(primary)
    try:
        [(xid,)] = held.execute("SELECT pg_current_xact_id()::text::bigint").fetchall()
        Note.objects.create(text="committed after the open transaction took its id")
        standby.wait_until_caught_up()
        per_database = (
            "WITH s AS (SELECT pg_current_snapshot() AS snap) "
            f"SELECT {DATABASE_HORIZON}::text::bigint FROM s"
        )
        [(wrong,)] = standby.sql(per_database)
        assert wrong > xid  # why the library does not use it on a standby
        for horizon in ("database", "cluster"):
            with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "PULL_HORIZON": horizon}):
                reading = read_clock(replica)
                assert reading.standby and reading.horizon <= xid, (horizon, reading, xid)
                assert reading.cluster == read_clock("default").cluster
    finally:
        held.rollback()
        held.close()


def test_a_lagging_standby_serves_nothing_new_and_skips_nothing(
    standby: Standby, pulls_from_replica: str, user: User, org: Org
) -> None:
    service = tasks_service(user, org)
    first = read_page(service, START, 100, using=pulls_from_replica)
    standby.pause_replay()
    try:
        mids = sorted(new_id() for _ in range(3))
        service.push([{"mobile_id": m, "title": "written while the standby lags"} for m in mids])
        # The standby has not replayed the push: nothing new, and the position stays.
        with transaction.atomic(using=pulls_from_replica):
            page = read_page_on(pulls_from_replica, service, first.position, 100, None, {})
        assert served(page) == [] and page.has_more is False
        assert page.position.seq == first.position.seq
    finally:
        standby.resume_replay()
    standby.wait_until_caught_up()
    eventually(
        lambda: sorted(served(read_page(service, page.position, 100, using=pulls_from_replica))),
        mids,
    )


def test_a_cursor_from_the_primary_on_a_lagging_standby_is_served_by_the_primary(
    standby: Standby, pulls_from_replica: str, user: User, org: Org
) -> None:
    service = tasks_service(user, org)
    standby.pause_replay()
    try:
        old = new_id()
        service.push([{"mobile_id": old, "title": "before"}])
        on_primary = read_page(service, START, 100, using="default")
        assert served(on_primary) == [old]
        new = new_id()
        service.push([{"mobile_id": new, "title": "after"}])
        # The standby has not replayed what this cursor's page saw: it may not judge it.
        with pytest.raises(ReadOnPrimary, match="cannot serve this cursor"):
            read_page_on(pulls_from_replica, service, on_primary.position, 100, None, {})
        page = read_page(service, on_primary.position, 100, using=pulls_from_replica)
        assert served(page) == [new]
    finally:
        standby.resume_replay()


@pytest.fixture
def held_in_other_database(primary: Primary) -> Iterator[int]:
    """A transaction with an id, open in the ``other`` database of the cluster."""
    held = primary_transaction(primary, connection.settings_dict["NAME"] + "_other")
    try:
        yield held.execute("SELECT pg_current_xact_id()::text::bigint").fetchall()[0][0]
    finally:
        held.rollback()
        held.close()


def test_a_standby_whose_horizon_is_below_the_cursor_only_waits(
    standby: Standby, pulls_from_replica: str, held_in_other_database: int, user: User, org: Org
) -> None:
    """The primary's per-database horizon passes a transaction of another database; the
    standby's cluster-wide one does not. A cursor from the primary, beyond the standby's
    horizon but not its clock, gets nothing new from the standby: it waits."""
    service = tasks_service(user, org)
    mid = new_id()
    service.push([{"mobile_id": mid, "title": "after the other database's transaction"}])
    standby.wait_until_caught_up()
    on_primary = read_page(service, START, 100, using="default")
    assert served(on_primary) == [mid]
    later = new_id()
    service.push([{"mobile_id": later, "title": "later"}])
    standby.wait_until_caught_up()
    page = read_page_on(pulls_from_replica, service, on_primary.position, 100, None, {})
    assert served(page) == [] and page.position.seq == on_primary.position.seq


def test_a_feed_window_opened_above_the_standby_horizon_is_read_on_the_primary(
    standby: Standby, pulls_from_replica: str, held_in_other_database: int, user: User, org: Org
) -> None:
    tasks, notes = tasks_service(user, org), SyncService(declared_domain("notes"), user=user)
    feed = ChangeFeed([tasks, notes])
    tasks.push([{"mobile_id": new_id(), "title": "t"} for _ in range(3)])
    note = new_id()
    notes.push([{"mobile_id": note, "text": "n"}])
    standby.wait_until_caught_up()
    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "PULL_DATABASES": {}}):
        first = feed.read(FEED_START, 2)  # a window opened on the primary, half read
    assert first.has_more and first.position.index == 0
    assert first.position.upper is not None
    assert first.position.upper > read_clock(pulls_from_replica).horizon
    with pytest.raises(ReadOnPrimary, match="window"):
        feed.read_on(pulls_from_replica, first.position, 10)
    rest = feed.read(first.position, 10)  # on the primary instead
    assert [i["mobile_id"] for i in rest.changes["notes"]] == [note]
    assert len(rest.changes["tasks"]) == 1


def test_a_replica_that_is_not_in_recovery_is_never_read(user: User, org: Org) -> None:
    """``other`` is a database of the primary: not a standby, so the primary serves."""
    service = tasks_service(user, org)
    mid = new_id()
    service.push([{"mobile_id": mid, "title": "on default only"}])
    with pytest.raises(ReadOnPrimary, match="not in recovery"):
        read_page_on("other", service, START, 100, None, {})
    with override_settings(
        MOBILE_SYNC={**settings.MOBILE_SYNC, "PULL_DATABASES": {"default": "other"}}
    ):
        assert served(read_page(service, START, 100)) == [mid]


def test_a_replica_that_is_down_leaves_the_page_to_the_primary(
    pulls_from_replica: str, user: User, org: Org, caplog: Any
) -> None:
    service = tasks_service(user, org)
    mid = new_id()
    service.push([{"mobile_id": mid, "title": "served anyway"}])
    with pointing([pulls_from_replica], "127.0.0.1", free_port()):  # nobody listens there
        assert served(read_page(service, START, 100)) == [mid]
    assert "the replica 'replica' failed" in caplog.text


def test_the_http_pull_reads_the_replica_and_binds_the_cursor_to_the_primary(
    pulls_from_replica: str, client: Any, standby: Standby, org: Org
) -> None:
    mid = new_id()
    assert push(client, [{"mobile_id": mid, "title": "x"}]).status_code == 200
    standby.wait_until_caught_up()
    on_replica: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        on_replica.append(sql)
        return execute(sql, params, many, context)

    def items() -> list[str]:
        response = pull(client)
        assert response.status_code == 200, response.content
        items.cursor = response.json()["next_cursor"]  # type: ignore[attr-defined]
        return [i["mobile_id"] for i in response.json()["items"]]

    with connections[pulls_from_replica].execute_wrapper(record):
        eventually(items, [mid])
    assert any("testapp_task" in sql for sql in on_replica), on_replica
    position = decode_cursor(items.cursor, "tasks", {"org": org})  # type: ignore[attr-defined]
    assert position.origin.database == "default"
    assert position.origin.cluster == read_clock("default").cluster


@pytest.fixture
def cut_off_standby(primary: Primary, servers_dir: Any) -> Iterator[Standby]:
    server = Standby(primary, servers_dir, "failover")
    try:
        server.create()
        yield server
    finally:
        server.stop()


def test_a_failover_to_a_standby_that_missed_transactions_makes_devices_resync(
    cut_off_standby: Standby, user: User, org: Org
) -> None:
    service = tasks_service(user, org)
    kept = new_id()
    service.push([{"mobile_id": kept, "title": "replicated"}])
    cut_off_standby.wait_until_caught_up()
    cut_off_standby.disconnect()  # the primary dies: what follows never reaches the standby
    lost = new_id()
    service.push([{"mobile_id": lost, "title": "lost in the failover"}])
    device = read_page(service, START, 100)
    assert sorted(served(device)) == sorted([kept, lost])
    cut_off_standby.promote()
    with pointing(["default"], "127.0.0.1", cut_off_standby.port):
        with pytest.raises(CursorExpired, match="lost changes"):
            read_page(tasks_service(user, org), device.position, 100)
        fresh = read_page(tasks_service(user, org), START, 100)
        assert served(fresh) == [kept]
        # A device that comes back once the new clock has passed its mark would not be
        # told: the operator's reset makes every earlier cursor expire.
        call_command("sync_reset", stdout=io.StringIO())
        with pytest.raises(CursorExpired, match="reset"):
            read_page(tasks_service(user, org), fresh.position, 100)
        assert served(read_page(tasks_service(user, org), START, 100)) == [kept]


def test_a_dump_restored_into_another_cluster_needs_the_reset_and_makes_devices_resync(
    primary: Primary, servers_dir: Any, user: User, org: Org
) -> None:
    service = tasks_service(user, org)
    mids = sorted(new_id() for _ in range(3))
    service.push([{"mobile_id": m, "title": "restored"} for m in mids])
    device = read_page(service, START, 100)
    assert sorted(served(device)) == mids
    scratch = Scratch(primary, servers_dir, "restored")
    try:
        scratch.create()
        scratch.restore_from_primary(primary.dbname)
        with pointing(["default"], "127.0.0.1", scratch.port):
            restored = tasks_service(user, org)
            # Another cluster: every cursor of the old one is a 410.
            with pytest.raises(CursorExpired, match="moved to another server"):
                read_page(restored, device.position, 100)
            # Its transaction ids are far lower: restored rows are held above its horizon.
            assert served(read_page(restored, START, 100)) == []
            from django_mobile_sync.engine.epoch import rows_above_clock

            assert rows_above_clock("default") == {"testapp.Task": 3}
            call_command("sync_reset", stdout=io.StringIO())
            assert rows_above_clock("default") == {}
            assert sorted(served(read_page(restored, START, 100))) == mids
    finally:
        scratch.stop()


def test_a_transaction_open_in_another_database_delays_standby_pulls_not_primary_ones(
    primary: Primary, standby: Standby, pulls_from_replica: str, user: User, org: Org
) -> None:
    service = tasks_service(user, org)
    start = read_page(service, START, 100, using="default").position
    other_db = connection.settings_dict["NAME"] + "_other"
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(
            host=primary.host, port=primary.port, user=primary.user, dbname=other_db
        ) as conn:
            conn.execute("SELECT pg_current_xact_id()")
            holding.set()
            release.wait(20)

    worker = threading.Thread(target=hold, daemon=True)
    worker.start()
    try:
        assert holding.wait(10)
        mid = new_id()
        service.push([{"mobile_id": mid, "title": "committed while the other one is open"}])
        standby.wait_until_caught_up()
        assert served(read_page(service, start, 100, using="default")) == [mid]
        page = read_page_on(pulls_from_replica, service, start, 100, None, {})
        assert served(page) == []
    finally:
        release.set()
        worker.join(10)
    standby.wait_until_caught_up()
    eventually(lambda: served(read_page(service, start, 100, using=pulls_from_replica)), [mid])


def test_sync_doctor_reports_each_standby(replica: str) -> None:
    from django_mobile_sync.ops.doctor import ERROR, OK, WARNING, replica_findings

    def findings(standbys: Any) -> list[tuple[int, str]]:
        routed = {**settings.MOBILE_SYNC, "PULL_DATABASES": {"default": standbys}}
        with override_settings(MOBILE_SYNC=routed):
            return [(f.level, f.message) for f in replica_findings("default")]

    [(level, message), *rest] = findings(replica)
    assert level == OK and "a hot standby of 'default'" in message, message
    assert rest == []  # hot_standby_feedback is on, and it is caught up
    [(level, message)] = findings("other")
    assert level == ERROR and "not in recovery" in message
    with pointing([replica], "127.0.0.1", free_port()):
        [(level, message)] = findings(replica)
    assert level == WARNING and "the primary serves every pull" in message
