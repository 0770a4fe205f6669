"""HTTP-level answers (docs/protocol.md#errors): malformed bodies, size caps, gzip, auth,
JSON everywhere."""

from __future__ import annotations

import gzip
import json

import pytest
from rest_framework.test import APIClient

from tests.helpers.api import PUSH_URL, new_id
from tests.testapp.models import Task

URL = PUSH_URL.format("tasks")


def post_raw(client, body: bytes, **headers):
    content_type = headers.pop("content_type", "application/json")
    return client.generic("POST", URL, body, content_type=content_type, headers=headers)


def test_unauthenticated_is_401(db):
    r = APIClient().post(URL, {"entries": []}, format="json")
    assert r.status_code == 401 and r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'"text"',
        b"NaN",
        b'{"entries": {"a": 1}}',
        b'{"entries": "x"}',
        b"{}",
        b'{"entries": [], "client_id": ["x"]}',
        b'{"entries": [], "last_sync_timestamp": "noon"}',
        b"\xff\xfe",
        b"[" * 100000,
    ],
)
def test_malformed_bodies_are_400_json(client, body):
    r = post_raw(client, body)
    assert r.status_code == 400, r.content
    assert r["Content-Type"] == "application/json" and r.json()["detail"] and r.json()["code"]


def test_wrong_content_type_is_415(client):
    r = post_raw(client, b"entries=1", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415 and r.json()["code"]


def test_body_over_limit_is_413(client, settings):
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "MAX_BODY_BYTES": 1000}
    body = json.dumps({"entries": [{"mobile_id": new_id(), "title": "x" * 2000}]}).encode()
    r = post_raw(client, body)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert not Task.objects.exists()


def test_gzip_body_is_accepted(client):
    mid = new_id()
    body = gzip.compress(json.dumps({"entries": [{"mobile_id": mid, "title": "zipped"}]}).encode())
    r = post_raw(client, body, content_encoding="gzip")
    assert r.status_code == 200, r.content
    assert Task.objects.get(mobile_id=mid).title == "zipped"


def test_gzip_inflating_past_limit_is_413(client, settings):
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "MAX_BODY_BYTES": 100_000}
    bomb = gzip.compress(b'{"entries": [], "pad": "' + b"0" * 5_000_000 + b'"}')
    assert len(bomb) < 100_000
    r = post_raw(client, bomb, content_encoding="gzip")
    assert r.status_code == 413


def test_broken_gzip_is_400(client):
    good = gzip.compress(b'{"entries": []}')
    for body in (b"not gzip at all", good[: len(good) // 2]):
        r = post_raw(client, body, content_encoding="gzip")
        assert r.status_code == 400 and r.json()["code"] == "bad_gzip"


def test_unknown_content_encoding_is_415_with_accept_encoding(client):
    r = post_raw(client, b'{"entries": []}', content_encoding="br")
    assert r.status_code == 415
    assert r["Accept-Encoding"] == "gzip, identity"
    assert r.json()["code"] == "unsupported_content_encoding"


def test_hostile_field_values_never_500(client):
    entries = [
        {"mobile_id": new_id(), "title": {"$gt": ""}},
        {"mobile_id": new_id(), "title": ["a"]},
        {"mobile_id": new_id(), "title": "x", "priority": 10**30},
        {"mobile_id": new_id(), "title": "x", "due_at": "31/31/2031"},
        {"mobile_id": new_id(), "title": "\x00nul"},
        {"mobile_id": new_id(), "title": "x" * 10_000},
        {"mobile_id": new_id(), "title": "ok", "status": ["todo"]},
        {"mobile_id": new_id(), "title": "ok", "unknown_field": 1},
    ]
    r = APIClient()
    r = client.post(URL, {"entries": entries}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert len(body["errors"]) + len(body["synced_items"]) == len(entries)
    assert len(body["synced_items"]) == 1
