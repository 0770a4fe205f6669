"""Idempotency-Key (docs/protocol.md#idempotency): replay, 422, 409, per-user scope, TTL,
no storing of 5xx."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_mobile_sync.models import IdempotencyRecord, SyncBatch
from tests.helpers.api import new_id, push
from tests.testapp.models import Task


def keyed(client, entries, key="key-1", **extra):
    return push(client, entries, headers={"Idempotency-Key": key}, **extra)


def test_same_key_same_body_replays_byte_for_byte(client):
    entries = [{"mobile_id": new_id(), "title": "Once"}]
    first = keyed(client, entries)
    second = keyed(client, entries)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert second["Content-Type"] == first["Content-Type"]
    assert Task.objects.count() == 1 and SyncBatch.objects.count() == 1
    assert IdempotencyRecord.objects.get().hits == 1


def test_key_order_and_spacing_do_not_matter(client):
    mid = new_id()
    client.post(
        "/api/sync/tasks/sync/",
        f'{{"entries": [{{"mobile_id": "{mid}", "title": "a"}}]}}',
        content_type="application/json",
        headers={"Idempotency-Key": "k"},
    )
    again = client.post(
        "/api/sync/tasks/sync/",
        f'{{"entries":[{{"title":"a","mobile_id":"{mid}"}}]}}',
        content_type="application/json",
        headers={"Idempotency-Key": "k"},
    )
    assert again["Idempotent-Replayed"] == "true"


def test_same_key_different_body_is_422(client):
    keyed(client, [{"mobile_id": new_id(), "title": "One"}])
    r = keyed(client, [{"mobile_id": new_id(), "title": "Two"}])
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    assert Task.objects.count() == 1


def test_same_key_while_first_in_flight_is_409(client, user):
    entries = [{"mobile_id": new_id(), "title": "x"}]
    from django_mobile_sync.api.idempotency import request_fingerprint

    body = {"entries": entries, "client_id": "device-1"}
    IdempotencyRecord.objects.create(
        user_key=str(user.pk),
        domain="tasks",
        key="busy",
        request_hash=request_fingerprint(body),
        locked_until=timezone.now() + timedelta(minutes=5),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    r = keyed(client, entries, key="busy")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_in_progress"
    assert not Task.objects.exists()


def test_crashed_request_lock_expires(client, user):
    entries = [{"mobile_id": new_id(), "title": "x"}]
    from django_mobile_sync.api.idempotency import request_fingerprint

    IdempotencyRecord.objects.create(
        user_key=str(user.pk),
        domain="tasks",
        key="stuck",
        request_hash=request_fingerprint({"entries": entries, "client_id": "device-1"}),
        locked_until=timezone.now() - timedelta(seconds=1),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    r = keyed(client, entries, key="stuck")
    assert r.status_code == 200 and Task.objects.count() == 1


def test_keys_are_scoped_per_user(client, client_for, other_user):
    entries = [{"mobile_id": new_id(), "title": "x"}]
    keyed(client, entries, key="shared")
    r = keyed(client_for(other_user), entries, key="shared")
    assert r.status_code == 200 and "Idempotent-Replayed" not in r
    assert Task.objects.count() == 2


def test_keys_are_scoped_per_domain(client):
    keyed(client, [{"mobile_id": new_id(), "title": "x"}], key="k")
    r = push(
        client,
        [{"mobile_id": new_id(), "text": "n"}],
        domain="notes",
        headers={"Idempotency-Key": "k"},
    )
    assert r.status_code == 200 and "Idempotent-Replayed" not in r


def test_expired_key_is_treated_as_new_and_purged(client):
    entries = [{"mobile_id": new_id(), "title": "x"}]
    keyed(client, entries, key="old")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    r = keyed(client, [{"mobile_id": new_id(), "title": "other body"}], key="old")
    assert r.status_code == 200 and "Idempotent-Replayed" not in r
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("purge_idempotency_keys", verbosity=0)
    assert not IdempotencyRecord.objects.exists()


def test_ttl_comes_from_settings(client, settings):
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "IDEMPOTENCY_TTL": timedelta(minutes=3)}
    keyed(client, [])
    record = IdempotencyRecord.objects.get()
    assert timedelta(minutes=2) < record.expires_at - record.created_at <= timedelta(minutes=3)


@pytest.mark.parametrize("key", ["x" * 256, "tab\tkey", "ключ", "line\nbreak", " "])
def test_bad_key_is_400(client, key):
    r = push(client, [], headers={"Idempotency-Key": key})
    assert r.status_code == 400 and r.json()["code"] == "invalid_idempotency_key"


def test_invalid_envelope_is_not_claimed(client):
    r1 = push(client, {"not": "a list"}, headers={"Idempotency-Key": "k4"})
    assert r1.status_code == 400
    assert not IdempotencyRecord.objects.exists()  # an invalid envelope is not claimed


def test_server_error_is_not_stored(client, monkeypatch):
    from django_mobile_sync.service import SyncService

    def boom(*args, **kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(SyncService, "push", boom)
    entries = [{"mobile_id": new_id(), "title": "x"}]
    r = keyed(client, entries, key="k5")
    assert r.status_code == 500 and r.json()["code"] == "server_error"
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    assert keyed(client, entries, key="k5").status_code == 200
