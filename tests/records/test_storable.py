"""Values no database can store (NUL characters, unpaired surrogates, deep nesting, numbers
that overflow to infinity), wherever a device puts them: each such entry answers ``error``
with code ``unstorable``, never a server error, and every valid sibling applies.

Hypothesis builds batches of new, stale (``reject``: a conflict) and stale-but-resolvable
(``server_wins``) entries, some carrying an unknown key whose value is poisoned; on
PostgreSQL, racing creates of one new ``mobile_id`` carry them too.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from django_mobile_sync.models import IdempotencyRecord, SyncConflict
from tests.helpers.api import PUSH_URL, new_id, push
from tests.testapp.models import Task

#: Raw JSON text of unstorable values, drawn with some surrounding variety.
poisons = st.one_of(
    st.text(max_size=20).map(lambda t: json.dumps(t + "\x00" + t)),
    st.sampled_from(["\\ud83d", "\\udfff", "\\ud800x"]).map(lambda s: f'"a{s}b"'),
    st.integers(min_value=65, max_value=700).map(lambda n: "[" * n + "1" + "]" * n),
    st.integers(min_value=65, max_value=300).map(lambda n: '{"a": ' * n + "1" + "}" * n),
    st.sampled_from(["1e400", "-1e999", "9" * 4100, "[1e309]", '{"n": -2e308}']),
)


#: Raw JSON text of harmless junk in unknown keys (stored in the audit log of stale entries).
harmless = st.one_of(
    st.just("null"),
    st.integers(min_value=-(2**200), max_value=2**200).map(str),
    st.text(max_size=30).filter(lambda t: "\x00" not in t).map(json.dumps),
    st.integers(min_value=1, max_value=60).map(lambda n: "[" * n + "1" + "]" * n),
)


junks = st.one_of(
    st.none().map(lambda _: (None, False)),
    poisons.map(lambda text: (text, True)),
    harmless.map(lambda text: (text, False)),
)


batches = st.lists(st.tuples(st.sampled_from(["new", "stale"]), junks), min_size=1, max_size=8)


def with_junk(entry: dict[str, Any], junk: str | None) -> str:
    text = json.dumps(entry)
    return text if junk is None else text[:-1] + f', "x-{uuid.uuid4().hex[:6]}": {junk}' + "}"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=batches, resolver=st.sampled_from(["reject", "server_wins", "merge"]))
def test_poisoned_unknown_keys_never_fail_a_batch(client, domain_options, batch, resolver):
    cache.clear()
    stale = [new_id() for _ in batch]
    push(client, [{"mobile_id": m, "title": "base"} for m in stale])
    Task.objects.filter(mobile_id__in=stale).update(notes="server edit")
    entries, expected = [], []
    for (kind, (junk, poisoned)), old in zip(batch, stale, strict=True):
        if kind == "new":
            mid, entry = new_id(), {"title": "valid sibling"}
        else:
            mid, entry = old, {"version": 1, "title": "device edit"}
        entries.append(with_junk({"mobile_id": mid, **entry}, junk))
        stale_answer = "conflict" if resolver == "reject" else "resolved"
        expected.append((mid, "error" if poisoned else {"new": "created"}.get(kind, stale_answer)))
    body = '{"client_id": "fuzz", "entries": [%s]}' % ", ".join(entries)  # noqa: UP031
    with domain_options(resolver=resolver):
        r = client.post(PUSH_URL.format("tasks"), body, content_type="application/json")
    assert r.status_code == 200, r.content
    answer = r.json()
    by_id = {
        item["mobile_id"]: item
        for key in ("synced_items", "conflicts", "errors")
        for item in answer[key]
    }
    assert len(by_id) == len(batch)
    for mid, outcome in expected:
        item = by_id[mid]
        assert item["status"] == outcome, item
        if outcome == "error":
            assert item["code"] == "unstorable", item
        elif outcome == "created":
            assert Task.objects.get(mobile_id=mid).title == "valid sibling"


@pytest.mark.postgres
def test_racing_creates_with_poisoned_and_valid_twins(org, user):
    """Two devices create the same new records at once; in every other round one of them
    carries poison, in the others both race and the loser's payload goes to the audit log."""
    from django.contrib.auth.models import User

    rounds, errors = 8, []
    barrier = threading.Barrier(2)

    def device(name: str, poisoned: bool, ids: list[str], answers: list[Any]) -> None:
        try:
            api = APIClient()
            api.force_authenticate(User.objects.get(pk=user.pk))
            for i, mid in enumerate(ids):
                # Every other round the twins race for real: both are storable.
                junk = '"\\u0000"' if poisoned and i % 2 == 0 else "1" + "0" * 60
                sibling = new_id()
                body = '{"client_id": "%s", "entries": [%s, %s]}' % (  # noqa: UP031
                    name,
                    with_junk({"mobile_id": mid, "title": name}, junk),
                    json.dumps({"mobile_id": sibling, "title": "sibling"}),
                )
                barrier.wait(10)
                r = api.post(PUSH_URL.format("tasks"), body, content_type="application/json")
                answers.append((r.status_code, r.json(), sibling, mid))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    ids = [new_id() for _ in range(rounds)]
    clean, dirty = [], []
    threads = [
        threading.Thread(target=device, args=("clean", False, ids, clean)),
        threading.Thread(target=device, args=("dirty", True, ids, dirty)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    for status, body, sibling, _ in clean + dirty:
        assert status == 200, body
        assert Task.objects.filter(mobile_id=sibling).exists()
    for i, (_, body, _, mid) in enumerate(dirty):
        [item] = [
            item
            for key in ("synced_items", "conflicts", "errors")
            for item in body[key]
            if item["mobile_id"] == mid
        ]
        if i % 2 == 0:
            assert item["code"] == "unstorable", item
        else:  # lost or won the race: never an error, never a second record
            assert item["status"] in ("created", "conflict"), item
    for mid in ids:
        assert Task.all_objects.filter(mobile_id=mid).count() == 1
    assert Task.objects.filter(mobile_id__in=ids[::2], title="clean").count() == rounds // 2


#: Raw JSON text of values no database column can hold, and what the answer says of each.
POISONS = {
    "nul": ('"a\\u0000b"', "NUL character"),
    "lone surrogate": ('"\\ud83d"', "unpaired UTF-16 surrogate"),
    "deep nesting": ("[" * 500 + "1" + "]" * 500, "nested too deeply"),
    "overflowing number": ("1e400", "overflows to infinity"),
}


def raw_push(api: Any, entries: list[str], domain: str = "tasks", **headers: str) -> Any:
    """Push entries given as raw JSON text (``json.dumps`` cannot write some poisons)."""
    body = '{{"client_id": "device-1", "entries": [{}]}}'.format(", ".join(entries))
    return api.post(
        PUSH_URL.format(domain), body, content_type="application/json", headers=headers
    )


def entry(mobile_id: str, version: int = 0, junk: str | None = None, **fields: Any) -> str:
    text = json.dumps({"mobile_id": mobile_id, "version": version, **fields})
    return text if junk is None else text[:-1] + f', "junk": {junk}' + "}"


@pytest.mark.parametrize("resolver", ["reject", "server_wins", "merge"])
@pytest.mark.parametrize("poison", list(POISONS))
def test_a_stale_entry_with_an_unstorable_value_is_its_own_error(
    client, domain_options, poison, resolver
):
    stale, sibling = new_id(), new_id()
    push(client, [{"mobile_id": stale, "title": "base"}])
    Task.objects.filter(mobile_id=stale).update(notes="server edit")
    junk, reason = POISONS[poison]
    with domain_options(resolver=resolver):
        r = raw_push(
            client, [entry(stale, 1, junk, title="device"), entry(sibling, title="valid sibling")]
        )
    assert r.status_code == 200, r.content
    body = r.json()
    [error] = body["errors"]
    assert error["mobile_id"] == stale and error["code"] == "unstorable"
    assert reason in error["field_errors"]["junk"][0]
    assert [i["mobile_id"] for i in body["synced_items"]] == [sibling]
    assert Task.objects.get(mobile_id=sibling).title == "valid sibling"
    assert Task.objects.get(mobile_id=stale).title == "base"  # nothing of it applied
    assert not SyncConflict.objects.filter(mobile_id=stale).exists()


@pytest.mark.parametrize("poison", list(POISONS))
def test_the_same_batch_retried_with_a_key_is_replayed_not_failed(client, poison):
    new, sibling = new_id(), new_id()
    junk, _ = POISONS[poison]
    entries = [entry(new, 0, junk, title="new"), entry(sibling, title="sibling")]
    first = raw_push(client, entries, **{"Idempotency-Key": "retry-1"})
    again = raw_push(client, entries, **{"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    assert IdempotencyRecord.objects.get(key="retry-1").state == IdempotencyRecord.DONE


def test_a_number_overflowing_to_infinity_is_the_entry_s_error_not_a_400(client):
    bad, good = new_id(), new_id()
    r = raw_push(
        client, [entry(bad, 0, None)[:-1] + ', "priority": 1e400}', entry(good, title="ok")]
    )
    assert r.status_code == 200, r.content
    [error] = r.json()["errors"]
    assert error["mobile_id"] == bad and error["field_errors"]["priority"]
    assert Task.objects.filter(mobile_id=good).exists()


def test_unstorable_keys_and_ids_are_answered_not_crashed_on(client):
    key, odd_id = new_id(), '"\\ud83d"'
    body = [entry(key)[:-1] + ', "ju\\u0000nk": 1}', f'{{"mobile_id": {odd_id}}}']
    r = raw_push(client, body)
    assert r.status_code == 200, r.content
    first, second = r.json()["errors"]
    assert first["code"] == "unstorable" and list(first["field_errors"]) == ["ju\\x00nk"]
    assert second["mobile_id"] == "\ud83d"  # echoed as sent, escaped in the JSON


def test_a_device_id_that_cannot_be_stored_is_a_400(client):
    r = raw_push(client, [], **{"X-Device-Id": "a\x00b"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_device_id"
    body = '{"client_id": "\\ud83d", "entries": []}'
    r = client.post(PUSH_URL.format("tasks"), body, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "surrogate_characters_not_allowed"
