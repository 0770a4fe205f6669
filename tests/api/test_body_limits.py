"""The body-size cap of every push endpoint (docs/protocol.md#errors-and-limits).

``MAX_BODY_BYTES`` is the only limit on a push body: a body over Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB) but under the cap is accepted on every DRF version
the library supports, and a body over the cap answers a JSON ``413``, with or without
``X-Device-Id`` (without it, the device throttle reads the body's ``client_id`` first).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.helpers.api import new_id
from tests.testapp.models import Task

MIB = 1024 * 1024


#: Each record's ``notes``: a body of N MiB carries about N * 10 records.
NOTE_BYTES = 100_000


DEVICE = "phone-1"


def task(mobile_id: str) -> dict[str, Any]:
    return {"mobile_id": mobile_id, "title": "Inspect the pump", "notes": "n" * NOTE_BYTES}


def native_body(ids: list[str]) -> dict[str, Any]:
    return {"entries": [task(m) for m in ids], "client_id": DEVICE}


def multi_body(ids: list[str]) -> dict[str, Any]:
    return {"domains": {"tasks": {"entries": [task(m) for m in ids]}}, "client_id": DEVICE}


def watermelon_body(ids: list[str]) -> dict[str, Any]:
    created = [
        {"id": m, "_status": "created", "_changed": "", "title": "Pump", "notes": task(m)["notes"]}
        for m in ids
    ]
    return {"changes": {"tasks": {"created": created, "updated": [], "deleted": []}}}


def watermelon_url(api: APIClient) -> str:
    """The push URL after a pull: WatermelonDB sends the timestamp the pull answered."""
    pulled: Any = api.get("/api/sync/watermelon/", {"last_pulled_at": "null"})
    assert pulled.status_code == 200, pulled
    timestamp = json.loads(b"".join(pulled.streaming_content))["timestamp"]
    return f"/api/sync/watermelon/?last_pulled_at={timestamp}"


Endpoint = tuple[Callable[[APIClient], str], Callable[[list[str]], dict[str, Any]]]


ENDPOINTS: dict[str, Endpoint] = {
    "per-domain": (lambda api: "/api/sync/tasks/sync/", native_body),
    "multi-domain": (lambda api: "/api/sync/sync/", multi_body),
    "watermelon": (watermelon_url, watermelon_body),
}


@pytest.fixture(autouse=True)
def _watermelon_tasks() -> Any:
    """WatermelonDB's table ``tasks`` is the tasks domain (as in tests/watermelondb/)."""
    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "WATERMELON": {"tasks": "tasks"}}):
        yield


def body_of(size: int, build: Callable[[list[str]], dict[str, Any]]) -> tuple[bytes, list[str]]:
    """A JSON push body of at least ``size`` bytes, and the ids of the records it creates."""
    ids = [new_id() for _ in range(size // NOTE_BYTES + 1)]
    body = json.dumps(build(ids)).encode()
    assert len(body) >= size
    return body, ids


def post(api: APIClient, url: str, body: bytes, with_device: bool, **headers: str) -> Any:
    if with_device:
        headers["X-Device-Id"] = DEVICE
    body_text: Any = body  # bytes, sent as they are
    return api.generic("POST", url, body_text, content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    ("size", "with_device"),
    [(3 * MIB, True), (3 * MIB, False), (int(8.7 * MIB), False)],
    ids=["3MiB-X-Device-Id", "3MiB-client_id", "8.7MiB-client_id"],
)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_over_djangos_upload_limit_but_under_the_cap_is_accepted(
    client, endpoint, size, with_device
):
    assert size > settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # the defaults: 2.5 MB and 10 MiB
    url_of, build = ENDPOINTS[endpoint]
    url = url_of(client)
    body, ids = body_of(size, build)
    response = post(client, url, body, with_device)
    assert response.status_code == 200, response.content[:500]
    assert Task.objects.filter(mobile_id__in=ids).count() == len(ids)


@pytest.mark.parametrize("with_device", [True, False], ids=["X-Device-Id", "client_id"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_over_the_cap_is_a_json_413(client, endpoint, with_device):
    url_of, build = ENDPOINTS[endpoint]
    url = url_of(client)
    body, ids = body_of(11 * MIB, build)  # the default cap is 10 MiB
    response = post(client, url, body, with_device)
    assert response.status_code == 413, response.content[:500]
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "payload_too_large"
    assert not Task.objects.filter(mobile_id__in=ids).exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_lowered_cap_is_the_limit_of_every_endpoint(client, endpoint):
    url_of, build = ENDPOINTS[endpoint]
    url = url_of(client)
    under, kept = body_of(3 * NOTE_BYTES, build)
    over, refused = body_of(6 * NOTE_BYTES, build)
    cap = {**settings.MOBILE_SYNC, "WATERMELON": {"tasks": "tasks"}, "MAX_BODY_BYTES": len(under)}
    with override_settings(MOBILE_SYNC=cap):
        assert post(client, url, under, with_device=False).status_code == 200  # exactly the cap
        response = post(client, url, over, with_device=False)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert Task.objects.filter(mobile_id__in=kept).count() == len(kept)
    assert not Task.objects.filter(mobile_id__in=refused).exists()


@pytest.mark.parametrize("with_device", [True, False], ids=["X-Device-Id", "client_id"])
def test_a_gzip_body_larger_than_djangos_limit_even_compressed_is_accepted(client, with_device):
    # Random hex notes halve at best: the gzip stream itself is over 2.5 MB.
    ids = [new_id() for _ in range(50)]
    entries = [{**task(m), "notes": os.urandom(NOTE_BYTES // 2).hex()} for m in ids]
    body = gzip.compress(json.dumps({"entries": entries, "client_id": DEVICE}).encode())
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = post(client, "/api/sync/tasks/sync/", body, with_device, content_encoding="gzip")
    assert response.status_code == 200, response.content[:500]
    assert Task.objects.filter(mobile_id__in=ids).count() == len(ids)


@pytest.mark.parametrize("with_device", [True, False], ids=["X-Device-Id", "client_id"])
def test_a_gzip_body_inflating_past_the_cap_is_a_413(client, with_device):
    body, ids = body_of(11 * MIB, native_body)
    small = gzip.compress(body)
    assert len(small) < MIB  # the cap applies to what it inflates to
    response = post(client, "/api/sync/tasks/sync/", small, with_device, content_encoding="gzip")
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert not Task.objects.filter(mobile_id__in=ids).exists()


#: Odd ``Content-Length`` values and their answers.
CONTENT_LENGTHS = [
    ("99999999999999999999", 413),  # declared over the cap: refused before reading
    (str(11 * MIB), 413),
    ("abc", 400),  # unreadable: no body (DRF and Django agree), so no envelope
    ("-1", 400),
    ("1.5", 400),
    ("5", 400),  # shorter than the body: truncated JSON
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_odd_content_length_is_a_json_4xx(client, endpoint):
    url = ENDPOINTS[endpoint][0](client)
    body = b'{"entries": [], "domains": {}, "changes": {}}'
    for content_length, status in CONTENT_LENGTHS:
        response = client.generic(
            "POST", url, body, content_type="application/json", CONTENT_LENGTH=content_length
        )
        assert response.status_code == status, (content_length, response.content)
        assert response["Content-Type"] == "application/json" and response.json()["code"]
