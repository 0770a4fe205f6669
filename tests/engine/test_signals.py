"""The observer signals: batch_synced, conflict_detected and item_rejected."""

from __future__ import annotations

from contextlib import contextmanager

from django_mobile_sync import signals
from django_mobile_sync.models import SyncBatch, SyncConflict
from django_mobile_sync.service import SyncService
from tests.helpers.api import new_id, push
from tests.testapp.models import Task


@contextmanager
def receiving(signal):
    calls = []

    def receiver(**kwargs):
        calls.append(kwargs)

    signal.connect(receiver)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def mixed_batch(client):
    """One create, one stale edit (a conflict) and one invalid entry (an error)."""
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "Base"}])
    Task.objects.filter(mobile_id=mid).update(title="Server")
    bad = new_id()
    entries = [
        {"mobile_id": new_id(), "title": "New"},
        {"mobile_id": mid, "version": 1, "notes": "stale"},
        {"mobile_id": bad, "title": "", "notes": "secret payload"},
    ]
    return push(client, entries).json(), mid, bad


def test_each_signal_once_per_event(client):
    with (
        receiving(signals.batch_synced) as batches,
        receiving(signals.conflict_detected) as conflicts,
        receiving(signals.item_rejected) as rejected,
    ):
        body, mid, bad = mixed_batch(client)
    assert len(batches) == 2  # the set-up push and the mixed one
    batch = batches[-1]
    assert batch["sender"] is SyncService and batch["domain"].name == "tasks"
    assert isinstance(batch["batch"], SyncBatch) and batch["batch"].pk is not None
    assert (batch["batch"].created, batch["batch"].conflicts, batch["batch"].errors) == (1, 1, 1)
    assert batch["result"].as_dict()["errors"] == body["errors"]

    [conflict] = conflicts
    assert isinstance(conflict["conflict"], SyncConflict)
    assert conflict["conflict"].pk is not None and str(conflict["conflict"].mobile_id) == mid

    [item] = rejected
    assert item["sender"] is SyncService and item["domain"].name == "tasks"
    assert item["item"] == body["errors"][0]
    assert item["item"]["mobile_id"] == bad and "title" in item["item"]["field_errors"]
    assert "secret payload" not in str(item["item"])  # the error, never the record
    assert item["batch"] == batch["batch"]


def test_item_rejected_covers_envelope_errors_and_nothing_on_a_clean_batch(client):
    with receiving(signals.item_rejected) as rejected:
        push(client, [{"mobile_id": new_id(), "title": "fine"}])
        assert rejected == []
        dup = new_id()
        push(
            client,
            [
                {"mobile_id": "not-a-uuid"},
                {"mobile_id": dup, "title": "a"},
                {"mobile_id": dup, "title": "b"},
            ],
        )
    assert [r["item"]["error_message"] for r in rejected] == [
        "mobile_id must be a UUID.",
        "This mobile_id appears earlier in the same batch; send one entry per record.",
    ]


def test_signals_fire_after_the_batch_is_stored(client):
    seen = []

    def receiver(batch, **kwargs):
        seen.append(SyncBatch.objects.filter(pk=batch.pk).exists())

    signals.item_rejected.connect(receiver)
    try:
        push(client, [{"mobile_id": new_id(), "title": ""}])
    finally:
        signals.item_rejected.disconnect(receiver)
    assert seen == [True]
