"""Races on PostgreSQL that several tests run, directly and through PgBouncer
(``tests/concurrency/``): each is a function that raises ``AssertionError`` when the library
loses the race."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections, transaction
from django.test import override_settings

from django_mobile_sync.models import IdempotencyRecord, SyncBatch, SyncConflict
from tests.helpers.api import make_user, new_id, pull_all, push
from tests.helpers.concurrency import (
    NAIVE_FEEDS,
    SLOW_SECONDS,
    HeldOpen,
    NaiveFeed,
    Replica,
    SlowPushService,
    Worker,
    current_txid,
    database_state,
    differences,
    finish,
    follow,
    push_via,
    run,
    service_for,
    sleep_in_transaction,
    start,
    statuses,
    wait_until_no_older_transaction,
)
from tests.helpers.databases import DOMAIN, client_of, rates, run_threads
from tests.testapp.models import Note, Org, Task


def no_change_is_missed(
    org: Org, user: User, tasks_domain: Any, held: HeldOpen | None, standby: Any
) -> None:
    """Slow writers (the ORM, a push) write first and commit last while fast ones commit
    meanwhile and a device follows the library's cursor: the device ends with exactly the
    database's state, where every naive cursor missed the slow writers' rows.

    Args:
        held: a transaction held open in another database (released before the last pull),
            or ``None``.
        standby: the hot standby pulls read (``PULL_DATABASES``), or ``None``.
    """
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
        entries: list[dict[str, Any]] = [
            {"mobile_id": m, "title": f"slow-push new {i}"} for i, m in enumerate(new)
        ]
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
        naive_state = naive[name].replica.state()
        missed = {mid for mid in expected if naive_state.get(mid) != expected[mid]}
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


def one_winner_among_ten(via: str, org: Org, user: User, tasks_domain: Any) -> None:
    """Ten pushes of one record at one base version: one ``updated``, nine ``conflict``."""
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


def readers_converge(org: Org, user: User, tasks_domain: Any) -> None:
    """Updates racing with pulls: every reader ends with the latest state of every record."""
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
    assert sum(tallies, Counter[str]())["updated"] > 20
    for replica in replicas:
        assert replica.state() == expected, f"{replica.name}:\n" + "\n".join(
            differences(expected, replica.state())
        )


def one_create_wins(via: str, org: Org, user: User, tasks_domain: Any) -> None:
    """Two creates of one new ``mobile_id``: one ``created``, never a duplicate row or a 500."""
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


def long_transaction_delays_pulls(
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


def tenants_on_two_databases_never_cross() -> None:
    """Eight devices, four per database, push batches with idempotency keys they all
    share and follow their cursors while the others write. Each ends with exactly its own
    database's notes; every key is stored once per database; nothing crosses over."""
    users = [make_user(f"{'other-' if i % 2 else ''}device-{i}", None) for i in range(8)]
    rounds, per_batch = 6, 5

    def device(user: User) -> tuple[dict[str, int], list[int]]:
        api = client_of(User.objects.get(pk=user.pk))
        held: dict[str, int] = {}
        cursor: str | None = None
        codes = []
        for n in range(rounds):
            entries = [
                {"mobile_id": new_id(), "text": f"{user.username} {n}"} for _ in range(per_batch)
            ]
            key = {"Idempotency-Key": f"round-{n}"}  # the same keys on every device
            response = push(api, entries, domain=DOMAIN, headers=key)
            codes.append(response.status_code)
            retry = push(api, entries, domain=DOMAIN, headers=key)
            assert retry["Idempotent-Replayed"] == "true" and retry.content == response.content
            items, cursor = pull_all(api, domain=DOMAIN, cursor=cursor)
            held.update({i["mobile_id"]: i["version"] for i in items})
        return held, codes

    with rates(user=None):
        results = run_threads(device, [(u,) for u in users])
        # A last pull, every writer done: each device catches up with its database.
        finals = []
        for user, (held, _) in zip(users, results, strict=True):
            items, _ = pull_all(client_of(user), domain=DOMAIN)
            finals.append(held | {i["mobile_id"]: i["version"] for i in items})

    stored = {
        alias: {str(m) for m in Note.objects.using(alias).values_list("mobile_id", flat=True)}
        for alias in ("default", "other")
    }
    assert len(stored["default"]) == len(stored["other"]) == 4 * rounds * per_batch
    for user, held, (_, codes) in zip(users, finals, results, strict=True):
        alias = "other" if user.username.startswith("other") else "default"
        assert codes == [200] * rounds
        assert set(held) == stored[alias], f"{user.username} differs from {alias}"
    for alias in ("default", "other"):
        assert IdempotencyRecord.objects.using(alias).count() == 4 * rounds
        assert SyncBatch.objects.using(alias).count() == 4 * rounds
