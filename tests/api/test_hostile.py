"""Hostile input (docs/protocol.md#errors): property-based envelopes, a gzip bomb, never a 500."""

from __future__ import annotations

import gzip
import json
import struct
import tracemalloc
import uuid
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.api import PUSH_URL, pull, push, reset_throttles
from tests.testapp.models import Task

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
)


json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


field_values = {
    "title": st.one_of(st.text(max_size=250), json_values),
    "status": st.one_of(st.sampled_from(["todo", "doing", "done", "nope", ""]), json_values),
    "priority": st.one_of(st.integers(min_value=-10, max_value=2**40), json_values),
    "notes": st.one_of(st.text(), json_values),
    "due_at": st.one_of(st.sampled_from(["2030-01-01T00:00:00Z", "nonsense", ""]), json_values),
    "version": st.one_of(st.integers(min_value=-2, max_value=5), json_values),
    "deleted": st.one_of(st.booleans(), json_values),
    "approved": json_values,
}


entries = st.fixed_dictionaries(
    {"mobile_id": st.one_of(st.uuids().map(str), st.just("not-a-uuid"), json_values)},
    optional=field_values,
)


batches = st.lists(st.one_of(entries, json_values), max_size=12)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=batches)
def test_any_batch_is_answered_per_entry_and_errors_change_nothing(client, batch):
    reset_throttles()  # many examples in one test: keep the push throttle out of the way
    before = {str(t.mobile_id): (t.version, t.title) for t in Task.all_objects.all()}
    r = push(client, batch)
    assert r.status_code == 200, r.content
    body = r.json()
    answered = body["synced_items"] + body["conflicts"] + body["errors"]
    assert len(answered) == len(batch)
    for error in body["errors"]:
        mid = error["mobile_id"]
        if mid in before:
            task = Task.all_objects.get(mobile_id=mid)
            assert (task.version, task.title) == before[mid]
        elif mid is not None and _is_uuid(mid):
            assert not Task.all_objects.filter(mobile_id=mid).exists()
    assert pull(client).status_code == 200


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=json_values)
def test_any_json_body_is_200_or_400(client, body):
    reset_throttles()
    r = client.post(PUSH_URL.format("tasks"), json.dumps(body), content_type="application/json")
    assert r.status_code in (200, 400), r.content
    assert "detail" in r.json() or "synced_items" in r.json()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(["cursor", "limit", "since", "status", "priority", "due_from"]),
        st.text(max_size=40),
        max_size=4,
    )
)
def test_any_pull_query_is_200_or_400(client, params):
    r = pull(client, **params)
    assert r.status_code in (200, 400), (params, r.content)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """1 GiB of JSON padding compressed to about 1 MB, in one gzip member.

    Compressing the GiB itself takes seconds of CPU in every environment. A full flush resets
    the compressor, so after one every MiB of zeros compresses to the same bytes: one
    compressed MiB is repeated, between a header and a trailer (CRC-32 and size of all the
    inflated bytes) written here, and the server inflates exactly what zlib would have made.
    """
    head, zeros, tail = b'{"entries": [], "pad": "', b"0" * (1 << 20), b'"}'
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = raw.compress(head) + raw.flush(zlib.Z_FULL_FLUSH)
    chunk = raw.compress(zeros) + raw.flush(zlib.Z_FULL_FLUSH)
    end = raw.compress(tail) + raw.flush()
    crc = zlib.crc32(head)
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + 1024 * len(zeros) + len(tail)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, max
    trailer = struct.pack("<II", crc, size % (1 << 32))
    return header + first + chunk * 1024 + end + trailer


def test_gzip_bomb_is_413_in_bounded_memory(client, gzip_bomb):
    assert len(gzip_bomb) < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        r = client.generic(
            "POST",
            PUSH_URL.format("tasks"),
            gzip_bomb,
            content_type="application/json",
            headers={"Content-Encoding": "gzip"},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB while refusing a gzip bomb"
    ok = client.generic(
        "POST",
        PUSH_URL.format("tasks"),
        gzip.compress(b'{"entries": []}'),
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )
    assert ok.status_code == 200
