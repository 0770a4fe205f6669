"""Concurrency on PostgreSQL with real threads, each with its own database connection.

These tests commit for real (the ``postgres`` marker makes them transactional) and race
writers against each other and against readers:

1. no missed change: a writer whose transaction stays open commits after writers that
   started later, while a device pages through the feed; a naive cursor on ``updated_at``,
   on ``id`` or on the change sequence without the horizon misses that writer's rows in the
   same run (the control that proves the run is adversarial), the library does not —
   pulling from the primary while a transaction stays open in another database of the
   cluster, or from a hot standby the suite starts (``tests/pgservers.py``);
2. ten pushes of one record at the same base version: one ``updated``, nine ``conflict``;
3. updates racing with pulls: every reader ends with the latest state of every record;
4. two creates of one new ``mobile_id``: one ``created``, never a duplicate row or a 500;
5. every ORM ``save()`` moves the version, even when another writer changed the row after
   the instance was loaded (fails today: see the test's docstring);
6. a long writing transaction delays changes of its own database (the documented cost of
   the transaction-id horizon) and never loses them; one in another database of the
   cluster delays nothing, unless ``PULL_HORIZON = "cluster"``.

Each thread closes its connections when it ends (``connections.close_all()``) so the
test's flush at teardown is not blocked. Each thread also sets a ``statement_timeout`` so
a deadlock or lost wake-up fails the test instead of hanging it.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.db.models import Max, Q
from django.test import override_settings
from rest_framework.test import APIClient

from django_mobile_sync.domains import get_domain
from django_mobile_sync.models import SyncConflict
from django_mobile_sync.service import SyncService
from tests.conftest import make_user, new_id, push
from tests.testapp.models import Note, Org, Task

pytestmark = pytest.mark.postgres

#: How long the slow writer keeps its transaction open after its writes.
SLOW_SECONDS = 1.5
#: No thread may run longer than this.
THREAD_TIMEOUT = 30.0


# -- threads ------------------------------------------------------------------------------


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


# -- what a device holds --------------------------------------------------------------------


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


@pytest.fixture
def tasks_domain() -> Any:
    return get_domain("tasks")


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


# -- 1. no missed change ----------------------------------------------------------------------


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


@pytest.mark.parametrize(
    "pulls_from", ["primary", pytest.param("replica", marks=pytest.mark.replica)]
)
def test_no_change_is_missed_while_a_slow_transaction_commits_after_later_ones(
    org: Org, user: User, tasks_domain: Any, pulls_from: str, request: Any
) -> None:
    """Pulls read the primary while a transaction is held open in another database of the
    cluster from start to end (it must delay nothing: the per-database horizon), or read a
    streaming replica of the primary (a lagging standby only delays: docs/cursor.md, "Pulls
    from a hot standby"), which the device must end up agreeing with exactly."""
    standby = None
    if pulls_from == "replica":
        standby = request.getfixturevalue("standby")
        alias = request.getfixturevalue("replica")
        routed = {**settings.MOBILE_SYNC, "PULL_DATABASES": {"default": alias}}
        with override_settings(MOBILE_SYNC=routed), nullcontext() as held:
            no_change_is_missed(org, user, tasks_domain, held, standby)
    else:
        with HeldOpen("other") as held:
            no_change_is_missed(org, user, tasks_domain, held, None)


def no_change_is_missed(
    org: Org, user: User, tasks_domain: Any, held: HeldOpen | None, standby: Any
) -> None:
    existing = Task.objects.bulk_create(Task(org=org, title=f"seed {i}") for i in range(60))
    slow_orm_owned = [t.pk for t in existing[0:10]]
    slow_push_owned = {str(t.mobile_id): t.version for t in existing[10:20]}
    fast_push_owned = {str(t.mobile_id): t.version for t in existing[20:40]}
    fast_orm_owned = [t.pk for t in existing[40:60]]

    readers_ready = [threading.Event(), threading.Event()]
    slow_wrote = {"orm": threading.Event(), "push": threading.Event()}
    slow_done: dict[str, float] = {}
    slow_ids: dict[str, Any] = {"created": set(), "touched": set(), "txids": {}}
    writers_done = threading.Event()

    # -- the device under test, and the naive ones ---------------------------------------
    standby_reads: list[str] = []

    def count_standby_reads(execute: Any, sql: str, *args: Any) -> Any:
        standby_reads.append(sql)
        return execute(sql, *args)

    def reader() -> Replica:
        replica = Replica("reader")
        service = service_for(tasks_domain, user, org, "reader")
        with connections["replica"].execute_wrapper(count_standby_reads):
            cursor = follow(service, replica, None, limit=7)
            readers_ready[0].set()
            while not writers_done.is_set():
                cursor = follow(service, replica, cursor, limit=7)
                time.sleep(0.005)
            replica.pages_before_end, replica.items_before_end = replica.pages, replica.items
            wait_until_no_older_transaction(org)
            cursor = follow(service, replica, cursor, limit=7)
            if standby is not None:
                # Delayed, never skipped: the standby catches up (its horizon is
                # cluster-wide, so another run's transaction may hold it for a while).
                standby.wait_until_caught_up()
                deadline = time.monotonic() + 20
                while replica.state() != database_state(org) and time.monotonic() < deadline:
                    time.sleep(0.1)
                    cursor = follow(service, replica, cursor, limit=7)
        return replica

    def naive_reader() -> dict[str, NaiveFeed]:
        feeds = {name: NaiveFeed(name, org) for name in NAIVE_FEEDS}
        for feed in feeds.values():
            feed.catch_up()
        readers_ready[1].set()
        while not writers_done.is_set():
            for feed in feeds.values():
                feed.poll()
            time.sleep(0.005)
        wait_until_no_older_transaction(org)
        for feed in feeds.values():
            feed.catch_up()
        return feeds

    # -- slow writers: write first, commit last ------------------------------------------
    def slow_orm_writer() -> None:
        pool = list(slow_orm_owned)
        with transaction.atomic():
            created = [
                Task.objects.create(org=org, title=f"slow-orm save {i}")  # save()
                for i in range(2)
            ]
            created += Task.objects.bulk_create(
                [Task(org=org, title=f"slow-orm bulk_create {i}") for i in range(2)]
            )
            task = Task.objects.get(pk=pool[0])
            task.title = "slow-orm save() edit"
            task.save()
            Task.objects.filter(pk__in=pool[1:4]).update(title="slow-orm update()")
            objs = list(Task.objects.filter(pk__in=pool[4:7]))
            for obj in objs:
                obj.title = "slow-orm bulk_update()"
            Task.objects.bulk_update(objs, ["title"])
            Task.objects.filter(pk=pool[7]).delete()  # queryset delete (tombstone)
            Task.objects.get(pk=pool[8]).delete()  # instance delete (tombstone)
            slow_ids["txids"]["orm"] = current_txid()
            touched = Task.all_objects.filter(pk__in=[*pool[:9], *(t.pk for t in created)])
            slow_ids["touched"].update(str(m) for m in touched.values_list("mobile_id", flat=True))
            slow_ids["created"].update(str(t.mobile_id) for t in created)
            slow_wrote["orm"].set()
            sleep_in_transaction(SLOW_SECONDS)
        slow_done["orm"] = time.monotonic()

    def slow_push_writer() -> None:
        service = service_for(tasks_domain, user, org, "slow-push", SlowPushService)
        assert isinstance(service, SlowPushService)
        service.wrote = slow_wrote["push"]
        mids = list(slow_push_owned)
        new = [new_id() for _ in range(4)]
        entries = [{"mobile_id": m, "title": f"slow-push new {i}"} for i, m in enumerate(new)]
        entries += [
            {"mobile_id": m, "version": slow_push_owned[m], "title": "slow-push edit"}
            for m in mids[:6]
        ]
        entries += [
            {"mobile_id": m, "version": slow_push_owned[m], "deleted": True} for m in mids[6:8]
        ]
        result = service.push(entries)
        assert sorted(statuses(result.as_dict())) == sorted(
            ["created"] * 4 + ["updated"] * 6 + ["deleted"] * 2
        ), result.as_dict()
        slow_ids["txids"]["push"] = service.txid
        slow_ids["touched"].update([*new, *mids[:8]])
        slow_ids["created"].update(new)
        slow_done["push"] = time.monotonic()

    # -- fast writers: start after the slow ones wrote, commit while they sleep ------------
    def keep_going(started: float) -> bool:
        if time.monotonic() - started > 10:
            return False
        if len(slow_done) < 2:
            return True
        return time.monotonic() < max(slow_done.values()) + 0.5

    def wait_for_slow_writers() -> float:
        for event in slow_wrote.values():
            assert event.wait(10), "a slow writer never wrote"
        return time.monotonic()

    def fast_push_writer() -> int:
        started = wait_for_slow_writers()
        service = service_for(tasks_domain, user, org, "fast-push")
        pool, rng, rounds = dict(fast_push_owned), random.Random(1), 0
        while keep_going(started):
            entries: list[dict[str, Any]] = [
                {"mobile_id": new_id(), "title": f"fast-push new {rounds}-{k}"} for k in range(2)
            ]
            picked = rng.sample(sorted(pool), min(3, len(pool)))
            entries += [
                {"mobile_id": m, "version": pool[m], "title": f"fast-push edit {rounds}"}
                for m in picked[:2]
            ]
            if rounds % 3 == 2 and len(picked) == 3:
                entries.append(
                    {"mobile_id": picked[2], "version": pool[picked[2]], "deleted": True}
                )
            body = service.push(entries).as_dict()
            assert not body["conflicts"] and not body["errors"], body
            for item in body["synced_items"]:
                if item["status"] == "deleted":
                    pool.pop(item["mobile_id"])
                else:
                    pool[item["mobile_id"]] = item["server_version"]
            rounds += 1
            time.sleep(0.01)
        return rounds

    def fast_orm_writer() -> int:
        started = wait_for_slow_writers()
        pool, rng, rounds = list(fast_orm_owned), random.Random(2), 0
        while keep_going(started):
            # Odd rounds are one transaction; even rounds commit each write on its own.
            with transaction.atomic() if rounds % 2 else nullcontext():
                pool.append(Task.objects.create(org=org, title=f"fast-orm save {rounds}").pk)
                task = Task.objects.get(pk=rng.choice(pool))
                task.title = f"fast-orm save() edit {rounds}"
                task.save()
                Task.objects.filter(pk__in=rng.sample(pool, 2)).update(
                    title=f"fast-orm update() {rounds}", priority=rounds % 6
                )
                pool += [
                    t.pk
                    for t in Task.objects.bulk_create(
                        [
                            Task(org=org, title=f"fast-orm bulk_create {rounds}-{k}")
                            for k in range(2)
                        ]
                    )
                ]
                objs = list(Task.objects.filter(pk__in=rng.sample(pool, 2)))
                for obj in objs:
                    obj.title = f"fast-orm bulk_update() {rounds}"
                Task.objects.bulk_update(objs, ["title"])
                victim = pool.pop(rng.randrange(len(pool)))
                if rounds % 2:
                    Task.objects.filter(pk=victim).delete()
                else:
                    Task.objects.get(pk=victim).delete()
            rounds += 1
            time.sleep(0.01)
        return rounds

    readers = start(Worker("reader", reader), Worker("naive-reader", naive_reader))
    for event in readers_ready:
        assert event.wait(10), "a reader never finished its first sync"
    writers = start(
        Worker("slow-orm", slow_orm_writer),
        Worker("slow-push", slow_push_writer),
        Worker("fast-push", fast_push_writer),
        Worker("fast-orm", fast_orm_writer),
    )
    _, _, fast_push_rounds, fast_orm_rounds = finish(*writers)
    writers_done.set()
    if held is not None:
        held.release()  # the device's last pull waits for no transaction older than its rows
    replica, naive = finish(*readers)

    expected = database_state(org)
    later_txids = Task.all_objects.filter(
        org=org, change_seq__gt=max(slow_ids["txids"].values())
    ).count()
    print(
        f"\nslow txids {slow_ids['txids']}; rows written by later transactions: "
        f"{later_txids}; fast rounds push={fast_push_rounds} orm={fast_orm_rounds}; "
        f"records {len(expected)}; reader pages {replica.pages} items {replica.items} "
        f"(before the end: {replica.pages_before_end} pages, {replica.items_before_end} "
        "items)"
    )

    # The scenario is adversarial: later transactions committed while the slow ones slept.
    assert fast_push_rounds >= 3 and fast_orm_rounds >= 3
    assert later_txids > 0
    if standby is None:
        # Every row was written after the transaction in the other database began.
        assert replica.items_before_end > 60, "the reader saw nothing while writers ran"
    else:
        assert any("testapp_task" in sql for sql in standby_reads), "the standby served nothing"

    # The device following the library's cursor holds exactly the database's latest state.
    assert not replica.regressions, replica.regressions[:5]
    assert replica.state() == expected, "\n".join(differences(expected, replica.state()))

    # Control: every naive cursor missed the slow writers' rows in this very run.
    for name in ("updated_at", "change_seq without the horizon"):
        held = naive[name].replica.state()
        missed = {mid for mid in expected if held.get(mid) != expected[mid]}
        print(f"naive {name}: missed or stale {len(missed)} of {len(expected)}")
        assert missed, f"a naive {name} cursor missed nothing: the run was not adversarial"
        assert slow_ids["touched"] <= missed, (
            f"a naive {name} cursor saw slow-writer rows: {sorted(slow_ids['touched'] - missed)}"
        )
    seen_by_id = set(naive["id"].replica.records)
    print(
        f"naive id: never saw {len(slow_ids['created'] - seen_by_id)} of "
        f"{len(slow_ids['created'])} rows the slow writers created"
    )
    assert slow_ids["created"] and not slow_ids["created"] & seen_by_id


# -- 2. one winner among ten ------------------------------------------------------------------


@pytest.mark.parametrize("via", ["service", "http"])
def test_ten_concurrent_pushes_at_one_base_version_have_exactly_one_winner(
    via: str, org: Org, user: User, tasks_domain: Any
) -> None:
    record = Task.objects.create(org=org, title="original")
    record.title = "edited once"
    record.save()
    mid = str(record.mobile_id)
    audits = SyncConflict.objects.count()

    for round_ in range(3):
        base = Task.objects.get(pk=record.pk).version
        barrier = threading.Barrier(10, timeout=10)

        def writer(
            i: int, base: int = base, round_: int = round_, barrier: threading.Barrier = barrier
        ) -> dict[str, Any]:
            entry = {"mobile_id": mid, "version": base, "title": f"round {round_} writer {i}"}
            User.objects.get(pk=user.pk)  # open this thread's connection before the race
            barrier.wait()
            return push_via(via, tasks_domain, user.pk, org, [entry], f"device-{i}")

        bodies = run(*(Worker(f"writer-{i}", writer, i) for i in range(10)))

        assert sorted(s for b in bodies for s in statuses(b)) == ["conflict"] * 9 + ["updated"]
        (winner,) = [i for i, b in enumerate(bodies) if b["synced_items"]]
        assert bodies[winner]["synced_items"][0]["server_version"] == base + 1
        stored = Task.objects.get(pk=record.pk)
        assert stored.version == base + 1
        assert stored.title == f"round {round_} writer {winner}"
        for body in bodies:
            for conflict in body["conflicts"]:
                assert (conflict["client_version"], conflict["server_version"]) == (base, base + 1)
                assert conflict["server_data"]["title"] == stored.title
        audits += 9
        assert SyncConflict.objects.count() == audits
    assert Task.all_objects.filter(org=org, mobile_id=mid).count() == 1


# -- 3. updates racing with pulls -------------------------------------------------------------


def test_readers_racing_with_updates_end_with_the_latest_version_of_every_record(
    org: Org, user: User, tasks_domain: Any
) -> None:
    tasks = Task.objects.bulk_create(Task(org=org, title=f"seed {i}") for i in range(30))
    mids = [str(t.mobile_id) for t in tasks]
    writers_stop, readers_stop = threading.Event(), threading.Event()

    def push_writer(k: int) -> Counter[str]:
        service = service_for(tasks_domain, user, org, f"writer-{k}")
        rng, tally, n = random.Random(k), Counter[str](), 0
        while not writers_stop.is_set():
            mid = rng.choice(mids)
            version = Task.all_objects.values_list("version", flat=True).get(
                org=org, mobile_id=mid
            )
            body = service.push(
                [{"mobile_id": mid, "version": version, "title": f"push {k}.{n}"}]
            ).as_dict()
            assert not body["errors"], body["errors"]
            tally.update(statuses(body))
            n += 1
        return tally

    def save_writer() -> Counter[str]:
        rng, n = random.Random(99), 0
        while not writers_stop.is_set():
            task = Task.objects.get(org=org, mobile_id=rng.choice(mids))
            task.title = f"save {n}"
            task.save()
            n += 1
        return Counter(saved=n)

    def reader(limit: int) -> Replica:
        replica = Replica(f"reader limit={limit}")
        service = service_for(tasks_domain, user, org, f"reader-{limit}")
        cursor = None
        while not readers_stop.is_set():
            cursor = follow(service, replica, cursor, limit)
            time.sleep(0.002)
        follow(service, replica, cursor, limit)  # the final catch-up
        return replica

    readers = start(*(Worker(f"reader-{n}", reader, n) for n in (3, 11, 100)))
    writers = start(
        *(Worker(f"push-writer-{k}", push_writer, k) for k in range(2)),
        Worker("save-writer", save_writer),
    )
    time.sleep(2.5)
    writers_stop.set()
    tallies = finish(*writers)
    wait_until_no_older_transaction(org)
    readers_stop.set()
    replicas = finish(*readers)

    expected = database_state(org)
    print(
        f"\nwriters: {sum(tallies, Counter())}; readers: "
        + ", ".join(f"{r.name}: {r.pages} pages/{r.items} items" for r in replicas)
    )
    assert sum(tallies, Counter())["updated"] > 20
    for replica in replicas:
        assert replica.state() == expected, f"{replica.name}:\n" + "\n".join(
            differences(expected, replica.state())
        )


# -- 4. two creates of one new record ---------------------------------------------------------


@pytest.mark.parametrize("via", ["http", "service"])
def test_concurrent_creates_of_one_mobile_id_make_one_record_and_no_500(
    via: str, org: Org, user: User, tasks_domain: Any
) -> None:
    bob = make_user("bob", org)  # a second device of the same tenant
    outcomes: Counter[str] = Counter()
    for round_ in range(10):
        mid = new_id()
        barrier = threading.Barrier(2, timeout=10)

        def creator(
            i: int, mid: str = mid, barrier: threading.Barrier = barrier, round_: int = round_
        ) -> dict[str, Any]:
            pk = (user, bob)[i].pk
            User.objects.get(pk=pk)  # open this thread's connection before the race
            barrier.wait()
            return push_via(
                via,
                tasks_domain,
                pk,
                org,
                [{"mobile_id": mid, "title": f"round {round_} creator {i}"}],
                f"device-{i}",
            )

        bodies = run(Worker("creator-0", creator, 0), Worker("creator-1", creator, 1))
        found = sorted(s for b in bodies for s in statuses(b))
        assert found.count("created") == 1, bodies
        (other,) = [s for s in found if s != "created"]
        assert other in ("conflict", "error"), bodies
        outcomes[other] += 1
        assert Task.all_objects.filter(mobile_id=mid).count() == 1
        (winner,) = [i for i, b in enumerate(bodies) if "created" in statuses(b)]
        assert Task.objects.get(mobile_id=mid).title == f"round {round_} creator {winner}"
    print(f"\nthe loser's status over 10 rounds: {dict(outcomes)}")


# -- 5. every ORM save moves the version ------------------------------------------------------


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


# -- 6. a long transaction delays changes in its own database only ---------------------------


@pytest.mark.parametrize(
    ("where", "horizon", "delayed"),
    [
        ("other", "database", False),
        ("default", "database", True),
        ("other", "cluster", True),
    ],
    ids=["other-database", "this-database", "other-database-cluster-horizon"],
)
def test_a_long_writing_transaction_delays_pulls_of_its_own_database_only(
    org: Org, user: User, tasks_domain: Any, where: str, horizon: str, delayed: bool
) -> None:
    """The cost of the transaction-id horizon, and where it stops (docs/cursor.md).

    A transaction that has written (has an xid) and is still open holds the pull horizon
    below every change committed after it started: a pull made meanwhile answers
    ``has_more: false`` without those changes, and they arrive with the first pull after
    that transaction ends. Nothing is lost. With the per-database horizon (the default)
    only transactions of this database hold it; ``PULL_HORIZON = "cluster"`` makes every
    transaction of the cluster count, as before.
    """
    holding, release = threading.Event(), threading.Event()

    def long_writer() -> None:
        with transaction.atomic(using=where):
            Note.objects.using(where).create(text="long-running job")
            holding.set()
            assert release.wait(10)

    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "PULL_HORIZON": horizon}):
        service = service_for(tasks_domain, user, org, "device")
        cursor = follow(service, Replica("before"), None, 100)
        worker = start(Worker("long-writer", long_writer))[0]
        try:
            assert holding.wait(10)
            mid = new_id()
            body = service.push([{"mobile_id": mid, "title": "committed while the job runs"}])
            assert statuses(body.as_dict()) == ["created"]

            page = service.pull(cursor=cursor)  # began after the push committed
            served = [(i["mobile_id"], i["version"]) for i in page["items"]]
            assert served == ([] if delayed else [(mid, 1)])
            assert page["has_more"] is False
        finally:
            release.set()
            finish(worker)

        if delayed:
            wait_until_no_older_transaction(org)
            page = service.pull(cursor=cursor)
            assert [(i["mobile_id"], i["version"]) for i in page["items"]] == [(mid, 1)]
