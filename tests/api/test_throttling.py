"""Throttling (docs/protocol.md#throttling): 429 with Retry-After, per user and per
(user, device)."""

from __future__ import annotations

import threading

import pytest
from django.core.cache.backends.base import InvalidCacheKey, memcache_key_warnings
from django.core.cache.backends.locmem import LocMemCache

from tests.helpers.api import PULL_URL, PUSH_URL, pull, push


def rates(settings, **values):
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "THROTTLE_RATES": values}


def test_user_limit_is_exact_and_says_when_to_retry(client, settings):
    rates(settings, user="3/hour", device=None)
    answers = [push(client, []).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    r = push(client, [])
    assert r.status_code == 429 and r.json()["code"] == "throttled"
    assert 0 < int(r["Retry-After"]) <= 3600


def test_rotating_device_ids_cannot_dodge_the_user_limit(client, settings):
    rates(settings, user="4/hour", device="2/hour")
    answers = [push(client, [], headers={"X-Device-Id": f"dev-{i}"}).status_code for i in range(6)]
    assert answers == [200, 200, 200, 200, 429, 429]


def test_device_limit_per_user_and_device(client, client_for, other_user, settings):
    rates(settings, user="100/hour", device="2/hour")
    same = [push(client, [], headers={"X-Device-Id": "tab"}).status_code for _ in range(3)]
    assert same == [200, 200, 429]
    assert push(client, [], headers={"X-Device-Id": "phone"}).status_code == 200
    # client_id in the body identifies the device when there is no header
    assert push(client, [], client_id="tab").status_code == 429
    # the same device id under another user is another counter
    assert push(client_for(other_user), [], headers={"X-Device-Id": "tab"}).status_code == 200


def test_pulls_have_their_own_rate(client, settings):
    rates(settings, user="1/hour", pull_user="2/hour")
    assert push(client, []).status_code == 200
    assert [pull(client).status_code for _ in range(3)] == [200, 200, 429]


def test_domain_rates_override_global(client, domain_options, settings):
    rates(settings, user="1/hour")
    with domain_options(throttle_rates={"user": "3/hour"}):
        assert [push(client, []).status_code for _ in range(4)] == [200, 200, 200, 429]


@pytest.mark.parametrize(
    # The in-memory SQLite test database answers concurrent writers "table is locked" at
    # once instead of waiting; the live test (example_project/tests/test_live_throttling.py)
    # races gunicorn workers on a real SQLite file.
    "store",
    [pytest.param("database", marks=pytest.mark.postgres), "cache"],
)
def test_counter_is_exact_under_concurrency(store, settings, request):
    """Twenty threads, each with its own database connection, race for five slots of one
    counter: exactly five pass."""
    from django.db import connection

    from django_mobile_sync.throttling import PushUserRateThrottle

    if store == "database":
        request.getfixturevalue("transactional_db")
    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "THROTTLE_STORE": store,
        "THROTTLE_RATES": {"user": "5/hour"},
    }

    class View:
        def get_domain(self):
            from django_mobile_sync.domains import get_domain

            return get_domain("tasks")

    class Request:
        method = "POST"
        headers: dict[str, str] = {}
        data: dict[str, str] = {}

        class user:
            pk = 42
            is_authenticated = True

    results, barrier = [], threading.Barrier(20)

    def hit():
        try:
            barrier.wait()
            results.append(PushUserRateThrottle().allow_request(Request(), View()))
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and results.count(True) == 5


def test_throttling_can_be_switched_off(client, settings):
    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "THROTTLE_CLASSES": [],
        "THROTTLE_RATES": {"user": "1/hour"},
    }
    assert [push(client, []).status_code for _ in range(3)] == [200, 200, 200]


class StrictKeyCache(LocMemCache):
    """Local memory with memcached's key rules and Redis's UTF-8 encoding of keys."""

    def validate_key(self, key):
        key.encode("utf-8")  # redis-py encodes keys strictly: a lone surrogate fails
        for warning in memcache_key_warnings(key):
            raise InvalidCacheKey(warning)


def test_any_device_id_makes_a_valid_cache_key(client, settings):
    """A client-chosen device id never reaches the cache key as is: the schemathesis run
    found a push answering 500 for a device id of 255 zeros (a key over memcached's 250
    characters); spaces and control characters break memcached's rules too, and a lone
    surrogate in ``client_id`` Redis's UTF-8 encoding of keys."""
    settings.CACHES = {
        **settings.CACHES,
        "strict": {"BACKEND": f"{__name__}.StrictKeyCache", "LOCATION": "strict-keys"},
    }
    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "THROTTLE_STORE": "cache",
        "THROTTLE_CACHE": "strict",
        "THROTTLE_RATES": {"user": "100/hour", "device": "2/hour"},
    }
    for device in ["0" * 255, "my phone", "tab\x01let"]:
        answers = [push(client, [], headers={"X-Device-Id": device}).status_code for _ in range(3)]
        assert answers == [200, 200, 429], device  # still counted per device
    # The envelope rejects a lone surrogate (400), but the throttle counts the request first.
    body = '{"entries": [], "client_id": "\\ud800 phone"}'
    url = PUSH_URL.format("tasks")
    answers = [
        client.post(url, body, content_type="application/json").status_code for _ in range(3)
    ]
    assert answers == [400, 400, 429]


def test_head_spends_from_the_pull_budget(client, settings):
    """Django answers HEAD by running the GET handler: the whole pull. It counts as one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rates(settings, pull_user="2/hour")
    url = PULL_URL.format("tasks")
    assert [client.head(url).status_code for _ in range(2)] == [200, 200]
    with CaptureQueriesContext(connection) as queries:
        refused = client.head(url)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # A refused HEAD stops at the throttle: the synced table is never read.
    assert not [q["sql"] for q in queries if "testapp_task" in q["sql"]]
    assert pull(client).status_code == 429  # HEAD and GET share one counter


def test_head_spends_from_the_pull_device_budget(client, settings):
    rates(settings, pull_device="1/hour")
    url = PULL_URL.format("tasks")
    headers = {"X-Device-Id": "tab"}
    assert client.head(url, headers=headers).status_code == 200
    assert client.get(url, headers=headers).status_code == 429
    assert client.get(url, headers={"X-Device-Id": "phone"}).status_code == 200


@pytest.mark.parametrize("method", ["options", "put", "patch", "delete", "trace"])
@pytest.mark.parametrize("url", [PULL_URL, PUSH_URL])
def test_no_method_reaches_a_sync_view_uncounted(client, settings, method, url):
    """OPTIONS and the methods the views refuse (405) are not pushes: they spend from the
    pull budget, so no request reaches a sync view without being counted."""
    rates(settings, user="100/hour", pull_user="1/hour")
    first = getattr(client, method)(url.format("tasks"))
    assert first.status_code in (200, 405), first.content
    assert getattr(client, method)(url.format("tasks")).status_code == 429
    assert pull(client).status_code == 429
    assert push(client, []).status_code == 200  # a push has its own budget


def test_rotating_domains_cannot_dodge_the_user_limit(client, settings):
    """Domains on the global rate share one counter: "100 pushes an hour" is per user, not
    per user and domain (with five domains, five times the rate)."""
    rates(settings, user="3/hour", device=None, pull_user="2/hour")
    answers = [push(client, [], domain=d).status_code for d in ("tasks", "notes", "routed-notes")]
    assert answers == [200, 200, 200]
    assert push(client, [], domain="notes").status_code == 429
    assert [pull(client, d).status_code for d in ("tasks", "notes", "tasks")] == [200, 200, 429]


def test_a_domain_with_its_own_rate_counts_apart(client, domain_options, settings):
    rates(settings, user="1/hour", device=None)
    with domain_options(throttle_rates={"user": "2/hour"}):
        assert [push(client, [], domain="notes").status_code for _ in range(2)] == [200, 429]
        assert [push(client, []).status_code for _ in range(3)] == [200, 200, 429]


def test_counters_live_in_the_database_by_default(client, settings):
    """Every process that shares the database shares the counters (issue 13, defect 5)."""
    from django_mobile_sync.models import ThrottleCounter

    rates(settings, user="2/hour", device="5/hour")
    assert [push(client, []).status_code for _ in range(3)] == [200, 200, 429]
    # The user's counter counts the refused push; the device's, after it, does not.
    assert sorted(ThrottleCounter.objects.values_list("hits", flat=True)) == [2, 3]


def test_pushes_with_invented_device_ids_add_at_most_one_row_per_allowed_push(client):
    """300 pushes, each from a new device id (issue 21, point 8): the user's rate (100 an
    hour by default) lets 100 through; the 200 it refuses add no device counter."""
    from django_mobile_sync.models import ThrottleCounter

    answers = [
        push(client, [], headers={"X-Device-Id": f"invented-{i}"}).status_code for i in range(300)
    ]
    assert answers == [200] * 100 + [429] * 200
    assert ThrottleCounter.objects.count() == 100 + 1  # 100 devices and the user


@pytest.mark.parametrize(
    "url", [PUSH_URL.format("tasks"), "/api/sync/sync/", "/api/sync/watermelon/?last_pulled_at=1"]
)
@pytest.mark.parametrize("device_in", ["X-Device-Id", "client_id"])
def test_a_refused_push_adds_no_counter_on_any_endpoint(client, settings, url, device_in):
    from django_mobile_sync.models import ThrottleCounter

    rates(settings, user="5/hour", device="50/hour")
    answers = []
    for i in range(15):
        device = f"invented-{i}"
        headers = {"X-Device-Id": device} if device_in == "X-Device-Id" else {}
        body = {"client_id": device, "entries": [], "domains": {}, "changes": {}}
        answers.append(client.post(url, body, format="json", headers=headers).status_code)
    assert answers[5:] == [429] * 10
    assert ThrottleCounter.objects.count() == 5 + 1


@pytest.mark.parametrize("store", ["database", "cache"])
def test_retry_after_is_the_longest_wait_of_the_throttles_that_refuse(client, settings, store):
    """The user's throttle refuses first and the device's is not counted; but the device is
    over its own rate too, so Retry-After waits for the later of the two windows, as DRF
    does."""
    import time

    from django_mobile_sync.models import ThrottleCounter

    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "THROTTLE_STORE": store,
        "THROTTLE_RATES": {"user": "3/hour", "device": "1/day"},
    }
    tablet = {"X-Device-Id": "tablet"}
    assert push(client, [], headers=tablet).status_code == 200
    assert push(client, [], headers=tablet).status_code == 429  # the device's day is spent
    assert push(client, [], headers={"X-Device-Id": "phone"}).status_code == 200
    hits = sorted(ThrottleCounter.objects.values_list("hits", flat=True))
    refused = push(client, [], headers=tablet)  # the user's hour is spent too
    assert refused.status_code == 429
    until_tomorrow = 86400 - time.time() % 86400
    assert abs(int(refused["Retry-After"]) - until_tomorrow) <= 2
    if store == "database":  # the user's counter took the refused push; the tablet's was read
        assert hits == [1, 2, 3]
        assert sorted(ThrottleCounter.objects.values_list("hits", flat=True)) == [1, 2, 4]
    else:
        assert not ThrottleCounter.objects.exists()


def test_the_cache_store_keeps_no_rows(client, settings):
    from django_mobile_sync.models import ThrottleCounter

    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "THROTTLE_STORE": "cache",
        "THROTTLE_RATES": {"user": "2/hour"},
    }
    assert [push(client, []).status_code for _ in range(3)] == [200, 200, 429]
    assert not ThrottleCounter.objects.exists()


def test_a_database_counter_starts_again_in_each_window(db):
    from django_mobile_sync.throttling import count_in_database

    assert count_in_database("k", 600, 60) == (1, 660)
    assert count_in_database("k", 600, 60) == (2, 660)
    assert count_in_database("k", 660, 60) == (1, 720)
    # A request of the window before (its worker's clock a little behind) counts in the
    # newer window rather than starting the older one again.
    assert count_in_database("k", 600, 60) == (2, 720)
    assert count_in_database("k", 660, 60) == (3, 720)


def test_counters_whose_window_ended_are_purged(db):
    """Device ids are client-chosen: rows of ids seen once must not pile up."""
    from django_mobile_sync.models import ThrottleCounter
    from django_mobile_sync.throttling import count_in_database

    for device in range(5):
        count_in_database(f"device-{device}", 0, 60)
    count_in_database("hourly", 0, 3600)
    count_in_database("busy", 600, 60)  # a window begins: the ended ones go
    assert sorted(ThrottleCounter.objects.values_list("key", flat=True)) == ["busy", "hourly"]


def test_an_unknown_store_fails_the_system_checks(settings):
    from django.core import checks

    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "THROTTLE_STORE": "redis"}
    [error] = [m for m in checks.run_checks() if m.id == "django_mobile_sync.E014"]
    assert "MOBILE_SYNC['THROTTLE_STORE']" in error.msg and "'redis'" in error.msg
    assert "'database'" in error.msg and "'cache'" in error.msg


@pytest.mark.postgres
def test_the_counters_never_make_a_commit_other_than_their_own_wait_less(transactional_db):
    """The counters' statement commits without waiting for the disk, alone; inside a
    transaction (``ATOMIC_REQUESTS``) that transaction's commit stays durable."""
    from django.db import connection, transaction

    from django_mobile_sync.throttling import count_chain_in_database, count_in_database

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return str(cursor.fetchone()[0])

    assert count_in_database("alone", 600, 60) == (1, 660)
    assert synchronous_commit() == "on"  # set for the counter's own transaction only
    with transaction.atomic():
        assert count_in_database("inside", 600, 60) == (1, 660)
        assert synchronous_commit() == "on"
    # Chained: the second counter counts only while the first is within its limit.
    chain = [("user", 600, 60, 1), ("device", 600, 60, 5)]
    assert count_chain_in_database(chain) == [(1, 660), (1, 660)]
    assert count_chain_in_database(chain) == [(2, 660), None]
    assert count_in_database("device", 600, 60) == (2, 660)


@pytest.mark.postgres
def test_chained_counters_are_exact_under_concurrency(transactional_db, settings):
    """Twenty threads, each with its own connection, push as one user from one device: the
    user's rate lets 5 through to the device's counter, whose rate lets 3 through. Counted
    in one statement (PostgreSQL), the outcome is that of counting one after the other."""
    from django.db import connection

    from django_mobile_sync.models import ThrottleCounter
    from django_mobile_sync.throttling import (
        PushDeviceRateThrottle,
        PushUserRateThrottle,
        first_refusal,
    )

    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "THROTTLE_STORE": "database",
        "THROTTLE_RATES": {"user": "5/hour", "device": "3/hour"},
    }

    class View:
        def get_domain(self):
            from django_mobile_sync.domains import get_domain

            return get_domain("tasks")

    class Request:
        method = "POST"
        headers = {"X-Device-Id": "tablet"}
        data: dict[str, str] = {}

        class user:
            pk = 42
            is_authenticated = True

    results, barrier = [], threading.Barrier(20)

    def hit():
        try:
            barrier.wait()
            throttles = [PushUserRateThrottle(), PushDeviceRateThrottle()]
            results.append(first_refusal(throttles, Request(), View()) is None)
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and results.count(True) == 3
    assert sorted(ThrottleCounter.objects.values_list("hits", flat=True)) == [5, 20]
