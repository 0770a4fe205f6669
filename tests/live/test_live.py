"""The live app's parts that need no server: the ``changes_committed`` signal the core
sends, the event ids, the detector's view of a change, and the settings checks. The stream
itself is tested over HTTP, served as ``make example`` serves it
(example_project/tests/test_live_stream.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core import checks
from django.db import transaction

from django_mobile_sync import signals
from django_mobile_sync.domains import get_domain
from django_mobile_sync.engine import PushBatch
from django_mobile_sync.live.detector import Detector, Follow, changed_tenants
from django_mobile_sync.live.events import Mark, decode_event_id, encode_event_id
from django_mobile_sync.service import SyncService
from tests.helpers.api import new_id, push
from tests.testapp.models import Org, Task


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
