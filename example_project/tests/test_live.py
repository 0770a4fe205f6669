"""The example served by gunicorn answers a device over real sockets, as `make example` does."""

from __future__ import annotations

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
