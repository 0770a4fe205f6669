"""The example served by gunicorn answers a device over real sockets, as `make example` does."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.live

PREFIX = "/api/v1/sync/"


def test_a_device_pushes_and_pulls_through_the_real_server(live_example: Any) -> None:
    token = live_example.token("carol")
    mobile_id = str(uuid.uuid4())
    entry = {"mobile_id": mobile_id, "version": 0, "description": "Fix the gate"}
    status, body = live_example.json(
        "POST", f"{PREFIX}work-orders/sync/", {"entries": [entry]}, token=token
    )
    assert status == 200, body
    assert [i["status"] for i in body["synced_items"]] == ["created"]
    status, page = live_example.json("GET", f"{PREFIX}work-orders/changes/", token=token)
    assert status == 200
    assert [i["mobile_id"] for i in page["items"]] == [mobile_id]
    assert live_example.request("GET", f"{PREFIX}work-orders/changes/")[0] == 401


def test_a_push_without_the_trailing_slash_gets_a_json_error(live_example: Any) -> None:
    status, headers, body = live_example.request(
        "POST", f"{PREFIX}work-orders/sync", {"entries": []}, token=live_example.token("carol")
    )
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "detail": f"This URL needs a trailing slash: POST {PREFIX}work-orders/sync/",
        "code": "missing_trailing_slash",
    }


def test_the_index_links_docs_admin_and_health(live_example: Any) -> None:
    status, index = live_example.json("GET", "/")
    assert status == 200
    links = index["links"]
    assert {k: links[k].removeprefix(live_example.url) for k in links} == {
        "api_docs": "/api/docs/",
        "api_schema": "/api/schema/",
        "admin": "/admin/",
        "health": "/health/",
    }
    for url in links.values():  # every link answers (the admin with its login page)
        assert live_example.request("GET", url.removeprefix(live_example.url))[0] == 200
    pull = index["sync_domains"]["activity"]["pull"]
    assert pull == f"{live_example.url}{PREFIX}activity/changes/"
    assert index["several_domains"]["pull"] == f"{live_example.url}{PREFIX}changes/"
    assert index["watermelon"] == f"{live_example.url}{PREFIX}watermelon/"
    status, headers, page = live_example.request("GET", "/", headers={"Accept": "text/html"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<a href="/api/docs/">' in page and b'<a href="/admin/">' in page


def test_a_push_over_djangos_upload_limit_is_accepted_and_over_the_cap_is_a_413(
    live_example: Any,
) -> None:
    """``MAX_BODY_BYTES`` (10 MiB) is the only cap: a 3 MB push passes Django's 2.5 MB
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` through gunicorn too; a push declaring 11 MiB is a JSON
    413 before the server reads its body."""
    token = live_example.token("bulky")
    url = f"{PREFIX}work-orders/sync/"
    note = "Replace the gasket; " * 5_000  # 100 kB
    entries = [{"mobile_id": str(uuid.uuid4()), "description": note} for _ in range(30)]
    big = json.dumps({"entries": entries, "client_id": "bulk-phone"}).encode()
    assert 2.5 * 1000 * 1000 < len(big) < 10 * 1024 * 1024
    status, body = live_example.json("POST", url, big, token=token)
    assert status == 200, body
    assert [item["status"] for item in body["synced_items"]] == ["created"] * 30

    connection = http.client.HTTPConnection("127.0.0.1", live_example.port, timeout=30)
    try:
        connection.putrequest("POST", url)
        for header, value in {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Length": str(11 * 1024 * 1024),
        }.items():
            connection.putheader(header, value)
        connection.endheaders(b'{"entries": [')  # the rest is never sent
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["code"] == "payload_too_large"
    finally:
        connection.close()
