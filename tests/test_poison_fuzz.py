"""Fuzzing the push with values no database can store, hidden in keys no serializer reads.

Hypothesis builds batches of new, stale (``reject``: a conflict) and stale-but-resolvable
(``server_wins``) entries, some carrying an unknown key whose value holds NUL characters,
unpaired surrogates, deep nesting or numbers too large for a double; on PostgreSQL, racing
creates of one new ``mobile_id`` carry them too. Whatever the mix: no server error, each
poisoned entry answers ``error`` with code ``unstorable``, and every valid sibling applies.
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

from tests.conftest import PUSH_URL, new_id, push
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
