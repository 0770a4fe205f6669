"""Management commands: purge_tombstones, purge_idempotency_keys and sync_doctor."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from django_mobile_sync.doctor import ERROR, INFO, OK, WARNING, _index_finding, diagnose
from django_mobile_sync.domains import SyncDomain, get_domain
from django_mobile_sync.models import IdempotencyRecord, TombstonePurge
from tests.conftest import new_id, push
from tests.testapp.models import Note, Task

REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x:1"}


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_purge_tombstones(client):
    old, recent = new_id(), new_id()
    push(client, [{"mobile_id": old, "title": "a"}, {"mobile_id": recent, "title": "b"}])
    Task.objects.filter(mobile_id__in=[old, recent]).delete()
    Task.all_objects.filter(mobile_id=old).update(deleted_at=timezone.now() - timedelta(days=91))
    assert run("purge_tombstones").splitlines() == [
        "tasks: purged 1 tombstone(s)",
        "notes: purged 0 tombstone(s)",
        "routed-notes: purged 0 tombstone(s)",
    ]
    assert [str(m) for m in Task.all_objects.values_list("mobile_id", flat=True)] == [recent]
    purge = TombstonePurge.objects.get()
    assert purge.domain == "tasks" and purge.purged_count == 1
    assert run("purge_tombstones", "notes") == "notes: purged 0 tombstone(s)\n"
    with pytest.raises(CommandError, match="Unknown sync domain 'nope'; declared: tasks"):
        run("purge_tombstones", "nope")


def test_purge_idempotency_keys(client):
    push(client, [], headers={"Idempotency-Key": "a"})
    push(client, [], headers={"Idempotency-Key": "b"})
    IdempotencyRecord.objects.filter(key="a").update(expires_at=timezone.now())
    assert run("purge_idempotency_keys") == "Purged 1 expired idempotency record(s)\n"
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["b"]


def findings(**kwargs):
    return {(f.topic, f.level) for f in diagnose(**kwargs)}


def test_doctor_on_the_test_settings(db):
    found = diagnose()
    by_topic = {f.topic: f for f in found}
    assert by_topic["configuration"].level == OK
    throttling = by_topic["throttling"]
    assert throttling.level == WARNING and "LocMemCache" in throttling.message
    assert "Redis" in throttling.fix
    tasks = by_topic["indexes: tasks"]  # testapp.Task has Index(org, change_seq, id)
    assert tasks.level == OK and "(org_id, change_seq, id)" in tasks.message
    assert by_topic["indexes: notes"].level == OK  # no tenant: change_seq alone serves it
    assert "database" in by_topic


def test_doctor_finds_a_domain_without_its_pull_index(db):
    # Task's index starts (org, change_seq): it does not serve a tenant of (org, title).
    domain = SyncDomain(
        name="tasks",
        model="testapp.Task",
        tenant_fields=["title", "org"],
        scope="tests.testapp.scopes.org_scope",
    )
    with override_settings(MOBILE_SYNC={"DOMAINS": [domain]}):
        found = diagnose()
    [tasks] = [f for f in found if f.topic == "indexes: tasks"]
    assert tasks.level == WARNING and "only change_seq alone is indexed" in tasks.message
    assert 'models.Index(fields=["title", "org", "change_seq", "id"], name=...)' in tasks.fix
    # Reported once, from the tables: not again as the W001 system check.
    assert "W001" not in " ".join(f.message for f in found)


def test_doctor_command_output_and_exit_status(db):
    out = run("sync_doctor")
    assert "[warning] throttling: the throttle cache 'default' is a LocMemCache" in out
    assert "    fix: Point MOBILE_SYNC['THROTTLE_CACHE'] at a Redis" in out
    assert out.splitlines()[-1].startswith("sync_doctor: ")
    with pytest.raises(CommandError) as failed:
        run("sync_doctor", "--fail-level", "warning")
    assert failed.value.returncode == 1
    assert "warning(s)" in str(failed.value)


@override_settings(CACHES={"default": REDIS})
def test_doctor_accepts_a_shared_cache(db):
    assert ("throttling", OK) in findings()


@pytest.mark.parametrize(
    ("backend", "level"),
    [
        ("django.core.cache.backends.dummy.DummyCache", WARNING),
        ("django.core.cache.backends.db.DatabaseCache", WARNING),
        ("django.core.cache.backends.filebased.FileBasedCache", WARNING),
    ],
)
def test_doctor_cache_backends(db, backend, level):
    cache = {"BACKEND": backend, "LOCATION": "/tmp/dms-doctor"}
    with override_settings(
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "t": cache,
        }
    ):
        with override_settings(MOBILE_SYNC={"DOMAINS": [], "THROTTLE_CACHE": "t"}):
            assert ("throttling", level) in findings()
        with override_settings(MOBILE_SYNC={"DOMAINS": [], "THROTTLE_CACHE": "missing"}):
            assert ("throttling", ERROR) in findings()
        with override_settings(MOBILE_SYNC={"DOMAINS": [], "THROTTLE_CLASSES": []}):
            assert not any(f.level >= WARNING for f in diagnose() if f.topic == "throttling")


def test_doctor_reports_configuration_errors(db):
    broken = SyncDomain(name="broken", model="testapp.Nope")
    with override_settings(MOBILE_SYNC={"DOMAINS": [broken]}):
        found = [f for f in diagnose() if f.topic == "configuration"]
        assert found[0].level == ERROR and "django_mobile_sync.E003" in found[0].message
        with pytest.raises(CommandError):
            run("sync_doctor")
        assert "[error] configuration" in run("sync_doctor", "--fail-level", "never")


def test_index_finding_without_any_change_seq_index():
    domain = get_domain("tasks")
    finding = _index_finding(domain, Task, {"pk": {"columns": ["id"], "index": True}})
    assert finding.level == ERROR and "org_id, change_seq" in finding.message
    good = {"pull": {"columns": ["org_id", "change_seq", "id"], "index": True}}
    assert _index_finding(domain, Task, good).level == OK


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite settings")
def test_doctor_wants_immediate_transactions_on_sqlite(db, monkeypatch):
    assert ("database", OK) in findings()
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {})
    [finding] = [f for f in diagnose() if f.topic == "database"]
    assert finding.level == WARNING and "IMMEDIATE" in finding.fix


@pytest.mark.postgres
def test_doctor_reads_postgresql_settings():
    def timeout_finding():
        return next(f for f in diagnose() if "idle_in_transaction" in f.message)

    assert "idle_in_transaction_session_timeout" in timeout_finding().message
    with connection.cursor() as cursor:
        cursor.execute("SET idle_in_transaction_session_timeout = 0")
        assert ("database", WARNING) in findings()
        cursor.execute("SET idle_in_transaction_session_timeout = '30s'")
        timeout = timeout_finding()
    assert timeout.level == OK and "30s" in timeout.message


@pytest.mark.postgres
@pytest.mark.parametrize(("horizon", "level"), [("database", OK), ("cluster", INFO)])
def test_doctor_says_which_pull_horizon_is_in_force(settings, horizon, level):
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "PULL_HORIZON": horizon}
    [finding] = [f for f in diagnose() if f.message.startswith("pull horizon")]
    assert finding.level == level and f"PULL_HORIZON = '{horizon}'" in finding.message


def test_doctor_housekeeping(client):
    push(client, [], headers={"Idempotency-Key": "a"})
    IdempotencyRecord.objects.update(expires_at=timezone.now())
    mid = new_id()
    push(client, [{"mobile_id": mid, "text": "x"}], domain="notes")
    Note.objects.filter(mobile_id=mid).delete()
    Note.all_objects.update(deleted_at=timezone.now() - timedelta(days=100))
    messages = [f.message for f in diagnose() if f.topic == "housekeeping"]
    assert messages == [
        "expired idempotency records are waiting to be purged",
        "notes has tombstones older than TOMBSTONE_RETENTION",
        "routed-notes has tombstones older than TOMBSTONE_RETENTION",
    ]
