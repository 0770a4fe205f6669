"""``manage.py sync_doctor``: each check of a deployment, and the command's output and exit
status."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from django_mobile_sync.domains import SyncDomain, get_domain
from django_mobile_sync.models import IdempotencyRecord, ThrottleCounter
from django_mobile_sync.ops.doctor import ERROR, INFO, OK, WARNING, diagnose, index_finding
from tests.helpers.api import new_id, push
from tests.helpers.tools import require_binary
from tests.testapp.models import Note, Task

REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"


#: Nothing listens on port 1: a Redis that is down.
DEAD_REDIS = {"BACKEND": REDIS_BACKEND, "LOCATION": "redis://127.0.0.1:1/0"}


CACHE_STORE = {"DOMAINS": [], "THROTTLE_STORE": "cache"}


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def findings(**kwargs):
    return {(f.topic, f.level) for f in diagnose(**kwargs)}


def test_doctor_on_the_test_settings(db):
    found = diagnose()
    by_topic = {f.topic: f for f in found}
    assert by_topic["configuration"].level == OK
    throttling = by_topic["throttling"]  # THROTTLE_STORE defaults to "database"
    assert throttling.level == OK
    assert throttling.message == (
        "the throttle counters are rows of the table django_mobile_sync_throttlecounter on "
        "the database 'default': shared by every process, counted by one atomic upsert"
    )
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


@override_settings(MOBILE_SYNC=CACHE_STORE)
def test_doctor_command_output_and_exit_status(db):
    out = run("sync_doctor")
    assert "[warning] throttling: the throttle cache 'default' is a LocMemCache" in out
    assert "    fix: Set MOBILE_SYNC['THROTTLE_STORE'] = 'database', or point" in out
    assert out.splitlines()[-1].startswith("sync_doctor: ")
    with pytest.raises(CommandError) as failed:
        run("sync_doctor", "--fail-level", "warning")
    assert failed.value.returncode == 1
    assert "warning(s)" in str(failed.value)


@pytest.fixture
def redis_url(tmp_path):
    """A real Redis server on a free port, for this test only."""
    binary = require_binary("redis-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tmp_path]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def test_doctor_accepts_a_shared_cache_that_answers(db, redis_url):
    with override_settings(
        CACHES={"default": {"BACKEND": REDIS_BACKEND, "LOCATION": redis_url}},
        MOBILE_SYNC=CACHE_STORE,
    ):
        [finding] = [f for f in diagnose() if f.topic == "throttling"]
    assert finding.level == OK and finding.message == (
        "the throttle cache 'default' is a shared RedisCache"
    )


@override_settings(
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "throttle": DEAD_REDIS,
    },
    MOBILE_SYNC={**CACHE_STORE, "THROTTLE_CACHE": "throttle"},
)
def test_doctor_reports_a_throttle_cache_that_does_not_answer(db):
    """A Redis that is down is not "a shared RedisCache": every counted request would 500."""
    [finding] = [f for f in diagnose() if f.topic == "throttling"]
    assert finding.level == ERROR
    assert finding.message.startswith(
        "the throttle cache 'throttle' (RedisCache) does not answer: ConnectionError"
    )
    assert "THROTTLE_STORE'] = 'database'" in finding.fix
    with pytest.raises(CommandError):
        run("sync_doctor")
    assert "[error] throttling: the throttle cache 'throttle'" in run(
        "sync_doctor", "--fail-level", "never"
    )


class Rollback(Exception):
    pass


def test_doctor_reports_a_missing_counter_table(db):
    table = ThrottleCounter._meta.db_table
    with pytest.raises(Rollback), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} RENAME TO moved_away")
        [finding] = [f for f in diagnose() if f.topic == "throttling"]
        raise Rollback
    assert finding.level == ERROR
    assert finding.message.startswith(
        f"the throttle counters cannot be read from the table {table} on the database 'default'"
    )
    assert finding.fix == "Run manage.py migrate django_mobile_sync --database default."


class CountersElsewhere:
    """A database router that keeps the throttle counters on the alias "other"."""

    def db_for_write(self, model, **hints):
        return "other" if model is ThrottleCounter else None


@pytest.mark.django_db(databases=["default", "other"])
def test_doctor_reports_the_database_the_router_picks(settings, client):
    settings.DATABASE_ROUTERS = [f"{__name__}.CountersElsewhere"]
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "THROTTLE_RATES": {"user": "1/hour"}}
    [finding] = [f for f in diagnose() if f.topic == "throttling"]
    assert finding.level == OK and "on the database 'other'" in finding.message
    assert [push(client, []).status_code for _ in range(2)] == [200, 429]
    assert ThrottleCounter.objects.using("other").count() == 2  # user and device counters
    assert not ThrottleCounter.objects.using("default").exists()


def test_doctor_warns_about_atomic_requests(db, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    [finding] = [f for f in diagnose() if f.topic == "throttling"]
    assert finding.level == WARNING and "ATOMIC_REQUESTS is on" in finding.message
    assert "Turn ATOMIC_REQUESTS off" in finding.fix


@pytest.mark.parametrize(
    ("backend", "level"),
    [
        ("django.core.cache.backends.dummy.DummyCache", WARNING),
        ("django.core.cache.backends.db.DatabaseCache", WARNING),
        ("django.core.cache.backends.filebased.FileBasedCache", WARNING),
    ],
)
def test_doctor_cache_backends(db, backend, level):
    cache = {"BACKEND": backend, "LOCATION": "dms_doctor_cache"}
    if backend.endswith("FileBasedCache"):
        cache["LOCATION"] = "/tmp/dms-doctor"
    with override_settings(
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "t": cache,
        }
    ):
        if backend.endswith("DatabaseCache"):
            call_command("createcachetable", "dms_doctor_cache")
        with override_settings(MOBILE_SYNC={**CACHE_STORE, "THROTTLE_CACHE": "t"}):
            assert ("throttling", level) in findings()
        with override_settings(MOBILE_SYNC={**CACHE_STORE, "THROTTLE_CACHE": "missing"}):
            assert ("throttling", ERROR) in findings()
        with override_settings(MOBILE_SYNC={**CACHE_STORE, "THROTTLE_CLASSES": []}):
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
    finding = index_finding(domain, Task, {"pk": {"columns": ["id"], "index": True}})
    assert finding.level == ERROR and "org_id, change_seq" in finding.message
    good = {"pull": {"columns": ["org_id", "change_seq", "id"], "index": True}}
    assert index_finding(domain, Task, good).level == OK


@pytest.mark.sqlite
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
