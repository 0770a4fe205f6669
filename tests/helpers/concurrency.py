"""Concurrency on PostgreSQL with real threads, each with its own database connection.

Threads that report their result or their exception (:class:`Worker`), a device that
follows the library's cursor and keeps what it pulled (:class:`Replica`), the naive cursors
that miss changes (:class:`NaiveFeed`), and a transaction held open in another database
(:class:`HeldOpen`). Each thread closes its connections when it ends
(``connections.close_all()``) so a test's flush at teardown is not blocked, and sets a
``statement_timeout`` so that a deadlock or a lost wake-up fails a test instead of hanging it.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.db.models import Max, Q
from rest_framework.test import APIClient

from django_mobile_sync.service import SyncService
from tests.helpers.api import push
from tests.testapp.models import Note, Org, Task

#: How long the slow writer keeps its transaction open after its writes.
SLOW_SECONDS = 1.5


#: No thread may run longer than this.
THREAD_TIMEOUT = 30.0


class Worker(threading.Thread):
    """A thread with its own connection that keeps its result or its exception."""

    def __init__(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__(name=name, daemon=True)
        self.fn, self.args = fn, args
        self.result: Any = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = '20s'")
            self.result = self.fn(*self.args)
        except BaseException:  # reported by finish()
            self.error = traceback.format_exc()
        finally:
            connections.close_all()


def start(*workers: Worker) -> list[Worker]:
    for worker in workers:
        worker.start()
    return list(workers)


def finish(*workers: Worker, timeout: float = THREAD_TIMEOUT) -> list[Any]:
    """Join the workers; fail with their tracebacks if any raised or is stuck."""
    deadline = time.monotonic() + timeout
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    stuck = [w.name for w in workers if w.is_alive()]
    assert not stuck, f"threads still running after {timeout}s: {stuck}"
    failed = [f"--- {w.name} raised:\n{w.error}" for w in workers if w.error]
    if failed:
        pytest.fail("\n".join(failed), pytrace=False)
    return [w.result for w in workers]


def run(*workers: Worker) -> list[Any]:
    return finish(*start(*workers))


def current_txid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        return int(cursor.fetchone()[0])


def sleep_in_transaction(seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])


def state(version: int, deleted: bool, title: str) -> tuple[int, bool, str | None]:
    """The part of a record the tests compare: version, tombstone, and data."""
    return version, deleted, None if deleted else title


def database_state(org: Org) -> dict[str, tuple[int, bool, str | None]]:
    rows = Task.all_objects.filter(org=org).values_list("mobile_id", "version", "deleted", "title")
    return {str(mid): state(v, d, t) for mid, v, d, t in rows}


class Replica:
    """A device's copy: the last item pulled per ``mobile_id``, in the order pull served."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: dict[str, dict[str, Any]] = {}
        self.regressions: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.pages = self.items = 0
        self.pages_before_end = self.items_before_end = 0

    def apply(self, items: list[dict[str, Any]]) -> None:
        self.pages += 1
        self.items += len(items)
        for item in items:
            held = self.records.get(item["mobile_id"])
            if held is not None and item["version"] < held["version"]:
                self.regressions.append((held, item))
            self.records[item["mobile_id"]] = item

    def state(self) -> dict[str, tuple[int, bool, str | None]]:
        return {
            mid: state(i["version"], i["deleted"], i.get("title", ""))
            for mid, i in self.records.items()
        }


def follow(service: SyncService, replica: Replica, cursor: str | None, limit: int) -> str:
    """Pull pages, following ``next_cursor`` until ``has_more`` is false."""
    while True:
        page = service.pull(cursor=cursor, limit=limit)
        replica.apply(page["items"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor


def differences(expected: dict[str, Any], held: dict[str, Any]) -> list[str]:
    lines = []
    for mid in sorted(expected.keys() | held.keys()):
        if expected.get(mid) != held.get(mid):
            lines.append(f"{mid}: database {expected.get(mid)}, device {held.get(mid)}")
    return lines


def wait_until_no_older_transaction(org: Org, timeout: float = 10.0) -> None:
    """Wait until every transaction that wrote a Task of ``org`` is below the horizon.

    The spec promises that a device has every change that committed before its pull began;
    with transaction ids that holds once no transaction older than those changes is still
    open anywhere in the cluster. Our writer threads have ended, but another test run on
    the same server may hold an old transaction for a moment: wait for it (read with raw
    SQL, not the library's function under test) instead of failing at random.
    """
    newest = Task.all_objects.filter(org=org).aggregate(seq=Max("change_seq"))["seq"] or 0
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            horizon = int(cursor.fetchone()[0])
        if horizon > newest:
            return
        if time.monotonic() > deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, datname, state, backend_xid, query "
                    "FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
                )
                holders = cursor.fetchall()
            pytest.fail(
                f"horizon {horizon} still at or below change_seq {newest} after "
                f"{timeout}s; transactions holding it: {holders}"
            )
        time.sleep(0.05)


def service_for(
    domain: Any, user: User, org: Org, device: str, cls: type[SyncService] = SyncService
) -> SyncService:
    return cls(domain, user=user, scope={"org": org}, device_id=device)


def push_via(
    via: str, domain: Any, user_pk: int, org: Org, entries: list[Any], device: str
) -> dict[str, Any]:
    """Push from inside a thread, through HTTP or the service; the response body."""
    user = User.objects.get(pk=user_pk)  # this thread's own instance
    if via == "http":
        api = APIClient()
        api.force_authenticate(user)
        response = push(api, entries, client_id=device)
        assert response.status_code == 200, (response.status_code, response.content)
        return response.json()
    return service_for(domain, user, org, device).push(entries).as_dict()


def statuses(body: dict[str, Any]) -> list[str]:
    return [
        item["status"] for key in ("synced_items", "conflicts", "errors") for item in body[key]
    ]


class SlowPushService(SyncService):
    """A push whose transaction stays open ``SLOW_SECONDS`` after its writes.

    A slow ``after_save`` hook (a webhook, a report) is how this happens in a real project.
    """

    wrote: threading.Event
    txid: int = 0

    def after_save(self, created: Any, updated: Any) -> None:
        self.txid = current_txid()
        self.wrote.set()
        sleep_in_transaction(SLOW_SECONDS)


#: Naive cursors the design avoids, as (name, ordering). Each pages through the raw table.
NAIVE_FEEDS = {
    "updated_at": ("updated_at", "pk"),
    "change_seq without the horizon": ("change_seq", "pk"),
    "id": ("pk",),
}


class NaiveFeed:
    """A device following a naive cursor: rows after the last one seen, in ``order``."""

    def __init__(self, name: str, org: Org) -> None:
        self.name, self.org, self.order = name, org, NAIVE_FEEDS[name]
        self.position: tuple[Any, ...] | None = None
        self.replica = Replica(f"naive {name}")

    def poll(self, limit: int = 50) -> int:
        rows = Task.all_objects.filter(org=self.org)
        if self.position is not None:
            if len(self.order) == 1:
                rows = rows.filter(pk__gt=self.position[0])
            else:
                key, (value, pk) = self.order[0], self.position
                rows = rows.filter(Q(**{f"{key}__gt": value}) | Q(**{key: value, "pk__gt": pk}))
        page = list(rows.order_by(*self.order)[:limit])
        self.replica.apply(
            [
                {
                    "mobile_id": str(t.mobile_id),
                    "version": t.version,
                    "deleted": t.deleted,
                    "title": t.title,
                }
                for t in page
            ]
        )
        if page:
            last = page[-1]
            self.position = tuple(getattr(last, f) for f in self.order)
        return len(page)

    def catch_up(self) -> None:
        while self.poll():
            pass


class HeldOpen:
    """A transaction with an id, held open in the database ``where`` by a thread."""

    def __init__(self, where: str) -> None:
        self.holding, self.released = threading.Event(), threading.Event()
        self.worker = Worker(f"held-open-in-{where}", self.hold, where)

    def hold(self, where: str) -> None:
        with transaction.atomic(using=where):
            Note.objects.using(where).create(text="a long job in another database")
            self.holding.set()
            assert self.released.wait(THREAD_TIMEOUT)

    def __enter__(self) -> HeldOpen:
        start(self.worker)
        assert self.holding.wait(10)
        return self

    def release(self) -> None:
        self.released.set()
        finish(self.worker)

    def __exit__(self, *exc: object) -> None:
        if not self.released.is_set():
            self.release()
