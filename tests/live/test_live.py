"""The live app's parts that need no server: the ``changes_committed`` signal the core
sends, the event ids, the detector's view of a change and of an access change, and the
settings checks. The stream
itself is tested over HTTP, served as ``make example`` serves it
(example_project/tests/test_live_stream.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.core import checks
from django.db import connection, transaction
from django.test import modify_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_mobile_sync import signals
from django_mobile_sync.domains import get_domain
from django_mobile_sync.engine import PushBatch
from django_mobile_sync.live import access, access_changed
from django_mobile_sync.live.access import changed_users
from django_mobile_sync.live.detector import Detector, Follow, Subscription
from django_mobile_sync.live.events import Mark, decode_event_id, encode_event_id
from django_mobile_sync.live.fanout import Fanout
from django_mobile_sync.live.models import AccessChange
from django_mobile_sync.live.reading import changed_in, changed_tenants, is_plain
from django_mobile_sync.service import SyncService
from tests.helpers.api import new_id, push
from tests.testapp.models import Label, Note, Org, Task


@contextmanager
def committed() -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        calls.append(kwargs)

    signals.changes_committed.connect(receiver)
    try:
        yield calls
    finally:
        signals.changes_committed.disconnect(receiver)


def test_changes_committed_once_per_push_that_wrote(
    client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mid = new_id()
    entries: list[list[dict[str, Any]]] = [
        [{"mobile_id": mid, "title": "A"}, {"mobile_id": new_id(), "title": "B"}],
        [{"mobile_id": mid, "version": 1, "title": "A"}],  # unchanged
        [{"mobile_id": new_id(), "title": ""}],  # an error only
    ]
    with committed() as calls:
        for batch in entries:
            with django_capture_on_commit_callbacks(execute=True):
                push(client, batch)
    assert len(calls) == 1
    assert calls[0]["domains"] == ["tasks"] and calls[0]["using"] == "default"
    assert calls[0]["sender"] is PushBatch


@pytest.mark.django_db(transaction=True)
def test_no_changes_committed_for_a_rolled_back_push(client: Any) -> None:
    domain = get_domain("tasks")
    assert domain is not None
    service = SyncService(domain, scope={"org": Org.objects.create(name="acme")}, device_id="d")
    with committed() as calls:
        with pytest.raises(RuntimeError), transaction.atomic():
            batch = PushBatch("default")
            batch.add(service, [{"mobile_id": new_id(), "title": "never"}])
            batch.apply()
            raise RuntimeError("the caller's transaction fails")
        assert calls == []
        batch = PushBatch("default")
        batch.add(service, [{"mobile_id": new_id(), "title": "kept"}])
        batch.apply()
    assert [call["domains"] for call in calls] == [["tasks"]]


def test_event_ids_are_signed_and_opaque() -> None:
    marks = {"default": Mark(42, "7001", 3)}
    value = encode_event_id(marks)
    assert decode_event_id(value) == marks
    for bad in (None, "", "garbage", value[:-3] + "abc", "x" * 5000):
        assert decode_event_id(bad) is None


@pytest.mark.django_db(transaction=True)
def test_the_detector_sees_which_tenants_changed_between_two_readings() -> None:
    acme, umbrella = Org.objects.create(name="acme"), Org.objects.create(name="umbrella")
    before = Detector.read_mark("default")
    Task.objects.create(org=acme, title="one")
    Task.objects.create(org=umbrella, title="two")
    after = Detector.read_mark("default")
    follow = Follow("tasks", Task, "default", ("org_id",), (acme.pk,))
    changed = changed_tenants(follow, before.horizon, after.horizon)
    assert changed == {(acme.pk,), (umbrella.pk,)}
    assert changed_tenants(follow, after.horizon, after.horizon + 10) == set()


@pytest.mark.django_db(transaction=True)
def test_the_detector_reads_every_domain_of_a_database_in_one_query() -> None:
    """Scoped domains (their tenant columns of one type) and an unscoped one: the union
    gives what one query per domain gives."""
    acme, umbrella = Org.objects.create(name="acme"), Org.objects.create(name="umbrella")
    follows = {
        "tasks": Follow("tasks", Task, "default", ("org_id",), (acme.pk,)),
        "labels": Follow("labels", Label, "default", ("org_id",), (acme.pk,)),
        "notes": Follow("notes", Note, "default", (), None),
    }
    before = Detector.read_mark("default")
    assert changed_in(follows, before.horizon, before.horizon + 10) == {
        "tasks": set(),
        "labels": set(),
        "notes": set(),
    }
    Task.objects.create(org=acme, title="one")
    Task.objects.create(org=umbrella, title="two")
    Label.objects.create(org=umbrella, name="urgent")
    Note.objects.create(text="hello")
    after = Detector.read_mark("default")
    with CaptureQueriesContext(connection) as queries:
        changed = changed_in(follows, before.horizon, after.horizon)
    assert changed == {
        "tasks": {(acme.pk,), (umbrella.pk,)},
        "labels": {(umbrella.pk,)},
        "notes": None,
    }
    assert changed == {
        name: changed_tenants(f, before.horizon, after.horizon) for name, f in follows.items()
    }
    assert len(queries) == 2  # the org-scoped domains, the unscoped one


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ({"LIVE_BACKEND": "carrier-pigeon"}, ["LIVE_BACKEND", "poll, postgres, redis"]),
        ({"STREAM_HEARTBEAT": 0}, ["STREAM_HEARTBEAT", "positive number"]),
        ({"MAX_STREAMS_PER_USER": "ten"}, ["MAX_STREAMS_PER_USER", "whole number"]),
        ({"LIVE_BACKEND": "redis"}, ["LIVE_REDIS_URL", "Redis server"]),
    ],
)
def test_the_live_settings_are_checked(
    settings: Any, setting: dict[str, Any], words: list[str]
) -> None:
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, **setting}
    errors = [e for e in checks.run_checks() if e.id == "django_mobile_sync.E014"]
    assert errors and all(word in errors[0].msg for word in words), errors


@pytest.mark.django_db(transaction=True)
def test_an_access_change_is_read_in_the_clock_range_of_its_commit() -> None:
    before = Detector.read_mark("default")
    access_changed(7)
    access_changed("8", ["tasks"])
    access_changed(8, ["notes"])
    after = Detector.read_mark("default")
    assert changed_users("default", before.horizon, after.horizon) == {
        "7": None,  # every domain with a view
        "8": {"tasks", "notes"},
    }
    assert changed_users("default", after.horizon, after.horizon + 10) == {}
    assert access.changed_since("default", "7", before.horizon)
    assert not access.changed_since("default", "7", after.horizon)


@pytest.mark.django_db(transaction=True)
def test_an_access_change_without_the_live_app_does_nothing() -> None:
    """A project with views but no live app may call it where access is stored."""
    with modify_settings(INSTALLED_APPS={"remove": ["django_mobile_sync.live"]}):
        access_changed(7)
    assert not AccessChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_access_change_leaves_nothing() -> None:
    before = Detector.read_mark("default")
    with pytest.raises(RuntimeError), transaction.atomic():
        access_changed(7)
        raise RuntimeError("the role change fails")
    assert changed_users("default", before.horizon, Detector.read_mark("default").horizon) == {}


@pytest.mark.django_db(transaction=True)
def test_purged_access_changes_leave_a_floor_that_makes_older_event_ids_old() -> None:
    start = Detector.read_mark("default").horizon
    access_changed(7)
    middle = Detector.read_mark("default").horizon
    access_changed(9)
    AccessChange.objects.filter(user_key="7").update(
        created_at=timezone.now() - access.RETENTION - timedelta(minutes=1)
    )
    access.purge_access_changes("default")
    assert set(AccessChange.objects.values_list("user_key", flat=True)) == {"", "9"}
    assert access.changed_since("default", "8", start)  # may have missed the purged one
    assert not access.changed_since("default", "8", middle)
    access.purge_access_changes("default")  # nothing more to purge: the floor stays
    assert AccessChange.objects.filter(user_key="").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_detector_pokes_the_users_view_domains_in_a_constant_number_of_queries() -> None:
    """One read of the access changes per tick, whatever the number of streams; only the
    streams of that user get a poke, naming their domains with a view."""
    acme = Org.objects.create(name="acme")
    loop = asyncio.new_event_loop()
    try:

        def stream(user: str, view: bool = True) -> Subscription:
            follows = (
                Follow("tasks", Task, "default", ("org_id",), (acme.pk,), view=view),
                Follow("notes", Task, "default", ("org_id",), (acme.pk,)),
            )
            return Subscription(follows, loop, user=user)

        def tick(detector: Detector) -> int:
            with CaptureQueriesContext(connection) as queries:
                detector.tick()
            loop.run_until_complete(asyncio.sleep(0))  # the deliveries
            return len(queries)

        detector = Detector()
        detector.start = lambda: None  # type: ignore[method-assign]  # ticks by hand
        own, other, plain = stream("7"), stream("8"), stream("7", view=False)
        for subscription in (own, other, plain):
            detector.subscribe(subscription)
        detector.renewed = time.monotonic()  # no lease renewal in the counted ticks
        access_changed(7)
        few = tick(detector)
        assert own.take()[0] == ["tasks"]
        assert other.take()[0] == [] and plain.take()[0] == []
        for n in range(100):
            detector.subscribe(stream(str(100 + n)))
        access_changed(8)
        assert tick(detector) == few
        assert other.take()[0] == ["tasks"] and own.take()[0] == []
    finally:
        loop.close()


@pytest.mark.django_db(transaction=True)
def test_a_commit_the_detector_has_not_read_before_a_stream_starts_does_not_poke_it() -> None:
    """The ``ready`` of a stream stands for the clock as it is when the stream starts, not
    as the detector last read it: a commit in between pokes the older streams only, and a
    ``Last-Event-ID`` of that ``ready`` does not look older than the commit."""
    acme = Org.objects.create(name="acme")
    loop = asyncio.new_event_loop()
    try:

        def stream() -> Subscription:
            follow = Follow("tasks", Task, "default", ("org_id",), (acme.pk,))
            return Subscription((follow,), loop, user="7")

        detector = Detector()
        detector.start = lambda: None  # type: ignore[method-assign]  # ticks by hand
        detector.renewed = time.monotonic()
        older, newer = stream(), stream()
        detector.subscribe(older)
        Task.objects.create(org=acme, title="before the newer stream")  # not read yet
        ready_id, _marks = detector.subscribe(newer)
        detector.tick()
        loop.run_until_complete(asyncio.sleep(0))
        assert older.take()[0] == ["tasks"] and newer.take()[0] == []
        resumed = decode_event_id(ready_id)
        assert resumed is not None and resumed["default"] == detector.marks["default"]
        Task.objects.create(org=acme, title="after both")
        detector.tick()
        loop.run_until_complete(asyncio.sleep(0))
        assert older.take()[0] == ["tasks"] and newer.take()[0] == ["tasks"]
    finally:
        loop.close()


@pytest.mark.django_db(transaction=True)
def test_a_tenant_field_that_converts_what_it_reads_is_read_through_the_orm() -> None:
    """Plain SQL for integer, text and UUID columns; a date (or a custom field, or a model
    with multi-table inheritance) through the ORM, so the tenant equals the stream's."""
    acme = Org.objects.create(name="acme")
    assert is_plain(Task, ("org_id",)) and is_plain(Task, ("title",))
    assert not is_plain(Task, ("due_at",)) and not is_plain(Task, ("history",))
    due = timezone.now().replace(microsecond=0)
    before = Detector.read_mark("default").horizon
    Task.objects.create(org=acme, title="dated", due_at=due)
    after = Detector.read_mark("default").horizon
    follows = {
        "tasks": Follow("tasks", Task, "default", ("due_at",), (due,)),
        "labels": Follow("labels", Label, "default", ("org_id",), (acme.pk,)),
    }
    assert changed_in(follows, before, after) == {"tasks": {(due,)}, "labels": set()}


def test_the_fanout_finds_the_streams_of_a_tenant_or_a_user_and_forgets_ended_ones() -> None:
    loop = asyncio.new_event_loop()
    try:
        fanout = Fanout()

        def stream(org: int, user: str) -> Subscription:
            follows = (
                Follow("tasks", Task, "default", ("org_id",), (org,), view=True),
                Follow("notes", Task, "other", (), None),
            )
            return Subscription(follows, loop, lease=org, user=user)

        acme, umbrella, unscoped = stream(1, "7"), stream(2, "8"), stream(3, "9")
        crowd = [stream(100 + n, str(100 + n)) for n in range(1000)]
        for subscription in (acme, umbrella, unscoped, *crowd):
            fanout.add(subscription)
        assert set(fanout.follows()) == {"default", "other"}
        marks = {"default": Mark(10), "other": Mark(10)}
        assert fanout.targets({"default": {"tasks": {(1,)}}}, {}, marks) == {acme: {"tasks"}}
        everyone = fanout.targets({"other": {"notes": None}}, {"8": {"notes"}}, marks)
        assert len(everyone) == 1003 and everyone[umbrella] == {"notes"}
        assert fanout.targets({}, {"8": None}, marks) == {umbrella: {"tasks"}}
        # A domain whose first stream came while a tick ran went unread up to its new mark.
        assert fanout.unread({"default": {"tasks": acme.follows[0]}}, {"default": Mark(10)}) == {}
        unread = fanout.unread({}, {"default": Mark(10)})
        assert len(unread) == 1003 and unread[acme] == {"tasks"}
        acme.since = {"default": Mark(10)}  # its ready came after those changes
        assert fanout.targets({"default": {"tasks": {(1,)}}}, {"7": None}, marks) == {}
        assert acme not in fanout.unread({}, {"default": Mark(10)})
        for subscription in (acme, umbrella, unscoped, *crowd):
            fanout.remove(subscription)
        fanout.remove(acme)  # twice: nothing happens
        assert not fanout and fanout.by_tenant == {} and fanout.by_user == {}
        assert fanout.follows() == {} and fanout.leases() == []
    finally:
        loop.close()
