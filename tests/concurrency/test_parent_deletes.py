"""A child written while its parent is deleted never ends live under a tombstone (PostgreSQL).

docs/relations.md, "Deleting a parent while devices write its children": whatever the
interleaving, either the child's write sees the parent gone (``unknown_reference``) or the
delete sees the child (``CASCADE`` tombstones it, ``PROTECT`` counts it, ``SET_NULL``
changes it). Real transactions in threads, each with its own connection.

1. Forced interleavings, for every way to delete a task (a device's push, a multi-domain
   push, ``Model.delete()``, ``QuerySet.delete()``) and every kind of child (checkitems
   ``CASCADE``, attachments ``PROTECT``, reminders ``SET_NULL``):

   - *child first*: the device's push of children has read the task and stops before it
     writes; the delete starts, and the push goes on once the delete is blocked (or done);
   - *delete first*: the delete has written and stops before it commits; the push starts,
     and the delete commits once the push is blocked (or done).

   A push of children either creates them, or (*revive*) edits a child the delete
   cascades or a tombstone it would bring back, without naming the task.
2. Randomised: a device pushes hundreds of checklist steps while another deletes their task.
3. A storm of pushes and deletes over a few tasks and their children, with a pause after
   every locking statement: no push fails, no orphan.
4. A deadlock no lock order avoids (steps pointing to steps): the push PostgreSQL aborts
   runs again, never a ``500``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import OperationalError, connection, transaction
from django.db.models import ProtectedError
from django.test import override_settings
from rest_framework.test import APIClient

from django_mobile_sync.engine.domain_work import is_deadlock
from django_mobile_sync.engine.push import PushBatch
from django_mobile_sync.resolvers import ClientWinsResolver, ConflictResolver
from django_mobile_sync.service import SyncService
from tests.helpers.api import declared_domain, multi_push, new_id
from tests.helpers.concurrency import Worker, finish, start
from tests.testapp.models import Attachment, Checkitem, Org, Reminder, Task

pytestmark = pytest.mark.postgres


#: The child domain, model and a new child's fields, per ``on_delete``.
CHILDREN: dict[str, tuple[str, Any, Callable[[int], dict[str, Any]]]] = {
    "cascade": ("checkitems", Checkitem, lambda i: {"label": f"step {i}"}),
    "protect": ("attachments", Attachment, lambda i: {"name": f"file-{i}.pdf"}),
    "set_null": ("reminders", Reminder, lambda i: {"text": f"reminder {i}"}),
}


#: How long a paused transaction waits for the other one to block or end.
PAUSE_SECONDS = 10.0


def orphans(org: Org) -> list[str]:
    """Children still live under a tombstoned task, reminders still pointing at one."""
    dead = Task.all_objects.filter(org=org, deleted=True)
    found = [f"live checkitem {c.mobile_id}" for c in Checkitem.objects.filter(task__in=dead)]
    found += [f"live attachment {a.mobile_id}" for a in Attachment.objects.filter(task__in=dead)]
    found += [f"reminder {r.mobile_id}" for r in Reminder.all_objects.filter(task__in=dead)]
    return found


def answer(item: dict[str, Any]) -> str:
    """``created``, ``updated``... or the ``code`` of an error."""
    return str(item.get("code") or item["status"])


class Race:
    """Stops the transaction that goes first until the other one is blocked or has ended."""

    def __init__(self, first: str) -> None:
        self.first = first  # "child" or "delete"
        self.pids: dict[str, int] = {}
        self.ended = {"child": threading.Event(), "delete": threading.Event()}
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
        other = "delete" if name == "child" else "child"
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


class RacingService(SyncService):
    """A device's push in a race: the stale entries of a revival win (``client_wins``), and
    the push stops where :class:`Race` says: a child's push before it writes, a delete's
    push after it has written."""

    race: Race | None = None

    def get_resolver(self) -> ConflictResolver:
        return ClientWinsResolver()

    def before_save(self, instance: Any, created: bool) -> None:
        super().before_save(instance, created)
        if self.race is not None and self.domain.name != "tasks":
            self.race.pause("child")

    def after_save(self, created: Any, updated: Any) -> None:
        super().after_save(created, updated)
        if self.race is not None and any(record.deleted for record in updated):
            self.race.pause("delete")


def service(name: str, user: User, org: Org, device: str) -> RacingService:
    return RacingService(declared_domain(name), user=user, scope={"org": org}, device_id=device)


def push_children(
    user: User, org: Org, relation: str, via: str, entries: list[dict[str, Any]]
) -> list[str]:
    """The device's push of ``entries`` in the relation's child domain; one answer each."""
    user = User.objects.get(pk=user.pk)
    domain = CHILDREN[relation][0]
    batch = PushBatch("default")
    batch.add(service(domain, user, org, "child-device"), entries)
    if via == "multi":  # the same request also writes a task (another one)
        another = {"mobile_id": new_id(), "title": "written with the children"}
        batch.add(service("tasks", user, org, "child-device"), [another])
    result = batch.apply()[0]
    return [answer(outcome.as_dict()) for outcome in result.outcomes]


def delete_task(user: User, org: Org, task: Task, via: str, race: Race | None) -> str:
    """Delete ``task``: ``deleted``, or ``referenced`` if live children protect it."""
    if via in ("push", "multi"):
        user = User.objects.get(pk=user.pk)
        batch = PushBatch("default")
        tasks = service("tasks", user, org, "deleting-device")
        batch.add(tasks, [{"mobile_id": str(task.mobile_id), "version": 1, "deleted": True}])
        if via == "multi":  # with a step of another task in the same request
            other = Task.objects.create(org=org, title="another task")
            step = {"mobile_id": new_id(), "task": str(other.mobile_id), "label": "unrelated"}
            batch.add(service("checkitems", user, org, "deleting-device"), [step])
        [item] = [o.as_dict() for o in batch.apply()[0].outcomes]
        return answer(item)
    try:
        with transaction.atomic():
            if via == "model":
                Task.objects.get(pk=task.pk).delete()
            else:
                Task.objects.filter(pk=task.pk).delete()
            if race is not None:
                race.pause("delete")
    except ProtectedError:
        return "referenced"
    return "deleted"


DELETES = [("push", "push"), ("multi", "multi"), ("model", "push"), ("queryset", "push")]


DELETES += [("queryset", "multi")]


@pytest.mark.parametrize("first", ["child", "delete"])
@pytest.mark.parametrize("relation", ["cascade", "protect", "set_null"])
@pytest.mark.parametrize(("delete_via", "child_via"), DELETES)
def test_children_pushed_while_their_task_is_deleted_never_end_live_under_a_tombstone(
    org: Org, user: User, relation: str, delete_via: str, child_via: str, first: str
) -> None:
    task = Task.objects.create(org=org, title="to delete")
    fields = CHILDREN[relation][2]
    entries = [{"mobile_id": new_id(), "task": str(task.mobile_id), **fields(i)} for i in range(3)]
    answers, deleted = race(
        first,
        lambda: push_children(user, org, relation, child_via, entries),
        lambda race: delete_task(user, org, task, delete_via, race),
    )

    assert orphans(org) == []
    model = CHILDREN[relation][1]
    rows = {str(r.mobile_id): r for r in model.all_objects.filter(org=org)}
    task.refresh_from_db()
    if first == "child":  # the delete saw the children
        assert answers == ["created"] * 3
        if relation == "protect":
            assert (deleted, task.deleted) == ("referenced", False)
            assert all(not rows[e["mobile_id"]].deleted for e in entries)
        else:
            assert (deleted, task.deleted) == ("deleted", True)
        if relation == "cascade":
            assert all(rows[e["mobile_id"]].deleted for e in entries)
        if relation == "set_null":
            assert all(rows[e["mobile_id"]].task_id is None for e in entries)
    else:  # the children saw their task gone
        assert (deleted, task.deleted) == ("deleted", True)
        assert answers == ["unknown_reference"] * 3
        assert not set(rows) & {e["mobile_id"] for e in entries}


@pytest.mark.parametrize("first", ["child", "delete"])
@pytest.mark.parametrize("relation", ["cascade", "protect"])
@pytest.mark.parametrize("delete_via", ["push", "model", "queryset"])
def test_a_child_edited_without_naming_its_task_while_the_task_is_deleted(
    org: Org, user: User, relation: str, delete_via: str, first: str
) -> None:
    """The edit names only the child: a checkitem the delete cascades, or an attachment
    (already a tombstone) that the edit would bring back while the task is deleted."""
    task = Task.objects.create(org=org, title="to delete")
    if relation == "cascade":
        child: Any = Checkitem.objects.create(org=org, task=task, label="step")
        edit = {"label": "edited on the device"}
    else:
        child = Attachment.objects.create(org=org, task=task, name="a.pdf")
        child.delete()
        edit = {"name": "restored.pdf"}
    entry = {"mobile_id": str(child.mobile_id), "version": child.version, **edit}
    answers, deleted = race(
        first,
        lambda: push_children(user, org, relation, "push", [entry]),
        lambda race: delete_task(user, org, task, delete_via, race),
    )

    assert orphans(org) == []
    child.refresh_from_db()
    task.refresh_from_db()
    if first == "child":
        assert answers == ["updated"]
        if relation == "cascade":  # edited, then cascaded
            assert (deleted, task.deleted, child.deleted) == ("deleted", True, True)
        else:  # brought back, then counted
            assert (deleted, task.deleted, child.deleted) == ("referenced", False, False)
    else:
        assert answers == ["unknown_reference"]
        assert (deleted, task.deleted, child.deleted) == ("deleted", True, True)


@pytest.mark.parametrize("moved_to", ["live", "deleted"])
def test_a_tombstone_moved_to_another_task_while_an_edit_brings_it_back(
    org: Org, user: User, moved_to: str
) -> None:
    """The push reads which task the step points to, then another writer moves it: the
    task it finds once the step is locked is checked (and locked) then."""
    task, target = (Task.objects.create(org=org, title=t) for t in ("first", "second"))
    step = Checkitem.objects.create(org=org, task=task, label="step")
    step.delete()
    if moved_to == "deleted":
        target.delete()
    read, moved = threading.Event(), threading.Event()

    def pause_after_reading_parents(execute: Any, sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        if sql.startswith('SELECT "testapp_checkitem"."task_id"') and not read.is_set():
            read.set()
            assert moved.wait(PAUSE_SECONDS)
        return result

    def edit() -> list[str]:
        with connection.execute_wrapper(pause_after_reading_parents):
            entry = {"mobile_id": str(step.mobile_id), "version": 2, "label": "back"}
            return push_children(user, org, "cascade", "push", [entry])

    worker = start(Worker("edit", edit))[0]
    assert read.wait(PAUSE_SECONDS)
    Checkitem.all_objects.filter(pk=step.pk).update(task=target)
    moved.set()
    [answers] = finish(worker)

    step.refresh_from_db()
    assert orphans(org) == []
    if moved_to == "live":
        assert (answers, step.deleted, step.task_id) == (["resolved"], False, target.pk)
    else:
        assert (answers, step.deleted) == (["unknown_reference"], True)


def race(
    first: str, child: Callable[[], list[str]], delete: Callable[[Race | None], str]
) -> tuple[list[str], str]:
    """Run the child's push and the delete, ``first`` stopping until the other waits."""
    state = Race(first)
    RacingService.race = state
    try:
        sides = {
            "child": state.run("child", child),
            "delete": state.run("delete", lambda: delete(state)),
        }
        second = "delete" if first == "child" else "child"
        leader = start(Worker(first, sides[first]))[0]
        assert state.paused.wait(PAUSE_SECONDS), f"the {first} never reached its pause"
        follower = start(Worker(second, sides[second]))[0]
        results = dict(zip((first, second), finish(leader, follower), strict=True))
    finally:
        RacingService.race = None
    print(f"\nwhile the {first} waited, the {second} was {state.other_was}")
    return results["child"], results["delete"]


def test_steps_pushed_while_another_device_deletes_their_task(org: Org, user: User) -> None:
    rng = random.Random(21)
    outcomes: list[str] = []
    for round_ in range(6):
        task = Task.objects.create(org=org, title=f"work order {round_}")
        entries = [
            {"mobile_id": new_id(), "task": str(task.mobile_id), "label": f"step {i}"}
            for i in range(300)
        ]
        via = ("push", "model", "queryset")[round_ % 3]
        barrier = threading.Barrier(2, timeout=10)

        def steps(entries: list[dict[str, Any]] = entries, barrier: Any = barrier) -> list[str]:
            User.objects.get(pk=user.pk)
            barrier.wait()
            return push_children(user, org, "cascade", "push", entries)

        def deleter(task: Task = task, via: str = via, barrier: Any = barrier) -> str:
            User.objects.get(pk=user.pk)
            barrier.wait()
            time.sleep(rng.uniform(0, 0.05))
            return delete_task(user, org, task, via, None)

        answers, deleted = finish(*start(Worker("steps", steps), Worker("deleter", deleter)))
        assert deleted == "deleted"
        assert set(answers) <= {"created", "unknown_reference"}, set(answers)
        assert len(set(answers)) == 1, "one transaction: all steps or none"
        live = Checkitem.objects.filter(task=task).count()
        assert live == 0, f"round {round_} ({via}): {live} live steps under a deleted task"
        outcomes.append(answers[0])
    print(f"\nthe steps' answers per round: {outcomes}")


def pause_after_locks(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """Widen every window: a short pause after each statement that locks rows."""
    result = execute(sql, params, many, context)
    if "FOR UPDATE" in sql or "FOR KEY SHARE" in sql or sql.lstrip().startswith("UPDATE"):
        time.sleep(random.uniform(0, 0.01))
    return result


def test_a_storm_of_pushes_and_deletes_never_fails_nor_leaves_orphans(
    org: Org, user: User
) -> None:
    tasks = [Task.objects.create(org=org, title=f"task {i}") for i in range(6)]
    for task in tasks:
        Checkitem.objects.create(org=org, task=task, label="existing step")
        Reminder.objects.create(org=org, task=task, text="existing reminder")
    task_ids = [str(t.mobile_id) for t in tasks]
    stop, orm_deadlocks = threading.Event(), []
    unsettings = {**settings.MOBILE_SYNC, "THROTTLE_CLASSES": []}

    def versions(model: Any, ids: list[str]) -> dict[str, int]:
        rows = model.all_objects.filter(mobile_id__in=ids).values_list("mobile_id", "version")
        return {str(m): v for m, v in rows}

    def entries_for(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
        picked = rng.sample(task_ids, 3)
        current = versions(Task, picked)
        tasks_part: list[dict[str, Any]] = [
            {"mobile_id": picked[0], "version": current[picked[0]], "title": "edited"}
        ]
        if rng.random() < 0.3:
            tasks_part.append(
                {"mobile_id": picked[1], "version": current[picked[1]], "deleted": True}
            )
        steps = [
            {"mobile_id": new_id(), "task": rng.choice(task_ids), "label": "new"}
            for _ in range(rng.randint(1, 4))
        ]
        existing = list(Checkitem.all_objects.filter(org=org).values_list("mobile_id", "version"))
        for mobile_id, version in rng.sample(existing, min(3, len(existing))):
            step = {"mobile_id": str(mobile_id), "version": version, "done": True}
            if rng.random() < 0.3:  # steps point to steps: SET_NULL within one model
                step["after"] = str(rng.choice(existing)[0])
            elif rng.random() < 0.2:
                step = {"mobile_id": str(mobile_id), "version": version, "deleted": True}
            steps.append(step)
        files = [
            {"mobile_id": new_id(), "task": rng.choice(task_ids), "name": "f.pdf"}
            for _ in range(rng.randint(0, 1))
        ]
        notes = [{"mobile_id": new_id(), "task": rng.choice(task_ids), "text": "n"}]
        return {"tasks": tasks_part, "checkitems": steps, "attachments": files, "reminders": notes}

    def service_pusher(seed: int) -> int:
        rng, me, rounds = random.Random(seed), User.objects.get(pk=user.pk), 0
        with connection.execute_wrapper(pause_after_locks):
            while not stop.is_set():
                batch = PushBatch("default")
                for name, entries in entries_for(rng).items():
                    batch.add(service(name, me, org, f"device-{seed}"), entries)
                batch.apply()
                rounds += 1
        return rounds

    def http_pusher(seed: int) -> int:
        rng, api, rounds = random.Random(seed), APIClient(), 0
        api.force_authenticate(User.objects.get(pk=user.pk))
        with connection.execute_wrapper(pause_after_locks):
            while not stop.is_set():
                response = multi_push(api, entries_for(rng))
                assert response.status_code == 200, (response.status_code, response.content)
                rounds += 1
        return rounds

    def orm_deleter(seed: int) -> int:
        rng, rounds = random.Random(seed), 0
        with connection.execute_wrapper(pause_after_locks):
            while not stop.is_set():
                picked = rng.sample(task_ids, 2)
                try:
                    if rounds % 2:
                        Task.all_objects.get(mobile_id=picked[0]).delete()
                    else:
                        Task.objects.filter(mobile_id__in=picked).delete()
                except ProtectedError:
                    pass
                except OperationalError as exc:  # the ORM leaves retrying to its caller
                    if not is_deadlock(exc):
                        raise
                    orm_deadlocks.append(rounds)
                rounds += 1
                time.sleep(0.02)
        return rounds

    with override_settings(MOBILE_SYNC=unsettings):
        workers = start(
            Worker("service-1", service_pusher, 1),
            Worker("service-2", service_pusher, 2),
            Worker("http-3", http_pusher, 3),
            Worker("http-4", http_pusher, 4),
            Worker("orm-5", orm_deleter, 5),
        )
        time.sleep(4)
        stop.set()
        rounds = finish(*workers)
    print(f"\nrounds per thread: {rounds}; ORM deletes aborted by a deadlock: {orm_deadlocks}")
    assert min(rounds) >= 3
    assert orphans(org) == []


@pytest.mark.parametrize("via", ["service", "http"])
def test_a_push_picked_to_break_a_deadlock_runs_again_instead_of_failing(
    org: Org, user: User, via: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Steps of one task point to the step they come after (``SET_NULL``), and rows of one
    model are locked in primary key order: no order of locks suits every tree.

    The later step has the smaller primary key. One push deletes the first step and stops
    (holding it) before it writes; another edits the later step, naming the first one, and
    blocks on it while holding the later step. The first push then sets the later step's
    ``after`` to null and waits for the second: a deadlock. PostgreSQL aborts one of them
    (the one that waited first); that push runs again once the other has committed.
    """
    task = Task.objects.create(org=org, title="with ordered steps")
    later = Checkitem.objects.create(org=org, task=task, label="second")
    first = Checkitem.objects.create(org=org, task=task, label="first")
    Checkitem.all_objects.filter(pk=later.pk).update(after=first)
    later.refresh_from_db()
    assert later.pk < first.pk
    state = Race("child")  # the deleting push stops where a push of children does
    RacingService.race = state

    def delete_first_step() -> list[str]:
        entry = {"mobile_id": str(first.mobile_id), "version": first.version, "deleted": True}
        return push_children(user, org, "cascade", "push", [entry])

    def edit_later_step() -> list[str]:
        entry = {
            "mobile_id": str(later.mobile_id),
            "version": later.version,
            "label": "second, edited",
            "after": str(first.mobile_id),
        }
        if via == "service":
            return push_children(user, org, "cascade", "push", [entry])
        api = APIClient()
        api.force_authenticate(User.objects.get(pk=user.pk))
        with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "THROTTLE_CLASSES": []}):
            response = multi_push(api, {"checkitems": [entry]})
        assert response.status_code == 200, (response.status_code, response.content)
        lists = response.json()["domains"]["checkitems"]
        return [answer(i) for k in ("synced_items", "conflicts", "errors") for i in lists[k]]

    try:
        deleting = start(Worker("deleting", state.run("child", delete_first_step)))[0]
        assert state.paused.wait(PAUSE_SECONDS)
        editing = start(Worker("editing", state.run("delete", edit_later_step)))[0]
        deleted, edited = finish(deleting, editing)
    finally:
        RacingService.race = None
    print(f"\nwhile the delete waited, the edit was {state.other_was}")

    assert state.other_was == "blocked"
    assert any("break a deadlock" in r.getMessage() for r in caplog.records), "no deadlock"
    assert deleted == ["deleted"]
    assert edited == ["unknown_reference"]  # run again: the step it names is gone
    later.refresh_from_db()
    assert (later.label, later.after_id, later.deleted) == ("second", None, False)
