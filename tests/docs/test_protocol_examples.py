"""The protocol page's JSON examples (docs/protocol.md) have the shapes the code produces:
each is compared with the keys of real push and pull answers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from django_mobile_sync.api.envelopes import MultiPushRequestSerializer, PushRequestSerializer
from django_mobile_sync.engine import SYNCED_STATUSES
from tests.helpers.api import (
    PULL_URL,
    new_id,
    pull,
    push,
)
from tests.helpers.docs import (
    DOCS,
    blocks,
    section,
    settle,
)


@pytest.fixture
def real_shapes(client: Any, domain_options: Any) -> dict[str, set[str]]:
    """Key sets of real push and pull answers."""
    mid, gone = new_id(), new_id()
    created = push(client, [{"mobile_id": mid, "title": "x"}, {"mobile_id": gone, "title": "y"}])
    push(client, [{"mobile_id": gone, "version": 1, "deleted": True}])
    from tests.testapp.models import Task

    Task.objects.filter(mobile_id=mid).update(title="server")
    stale = {"mobile_id": mid, "version": 1, "notes": "device"}
    conflict = push(client, [stale, {"mobile_id": new_id(), "title": ""}]).json()
    with domain_options(resolver="merge"):
        resolved = push(client, [stale]).json()["synced_items"][0]
    settle(Task)
    page = pull(client).json()
    tombstone = next(i for i in page["items"] if i["deleted"])
    error = pull(client, cursor="forged").json()
    with domain_options(min_client_schema_version=2):
        too_old = client.get(PULL_URL.format("tasks"), headers={"X-Client-Schema-Version": "1"})
    multi = client.post(
        "/api/sync/sync/", {"domains": {"notes": {"entries": []}}}, format="json"
    ).json()
    multi_page = client.get("/api/sync/changes/", {"domains": "tasks"}).json()
    return {
        "multi_push": set(multi),
        "multi_pull": set(multi_page),
        "domain_lists": set(multi["domains"]["notes"]),
        "multi_envelope": set(MultiPushRequestSerializer().fields),
        "push": set(created.json()),
        "synced": set(created.json()["synced_items"][0]),
        "resolved": set(resolved),
        "conflict": set(conflict["conflicts"][0]),
        "error": set(conflict["errors"][0]),
        "pull": set(page),
        "tombstone": set(tombstone),
        "error_body": set(error) | {"reset_required"} | set(too_old.json()),
        "envelope": set(PushRequestSerializer().fields),
    }


def json_objects(value: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(value, dict):
        found.append(value)
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found += json_objects(item)
    return found


def test_protocol_examples_have_the_real_shapes(real_shapes: dict[str, set[str]]) -> None:
    shapes, codes, seen = real_shapes, documented_codes(), set()
    examples = [b for b in blocks(DOCS / "protocol.md") if b.lang in ("json", "http")]
    for block in examples:
        body = block.body.partition("\n\n")[2] if block.lang == "http" else block.body
        for obj in json_objects(json.loads(body)) if body.strip() else []:
            where = f"{block}: {sorted(obj)}"
            if "synced_items" in obj:
                seen.add("push")
                shape = shapes["push"] if "timestamp" in obj else shapes["domain_lists"]
                assert set(obj) == shape, where
                for item in obj["synced_items"]:
                    key = "resolved" if item["status"] == "resolved" else "synced"
                    assert item["status"] in SYNCED_STATUSES and set(item) == shapes[key], where
                for item in obj["conflicts"]:
                    assert item["status"] == "conflict" and set(item) == shapes["conflict"]
                for item in obj["errors"]:
                    keys = set(item) - {"code"}  # a code where the protocol defines one
                    assert item["status"] == "error" and keys == shapes["error"], where
            elif "domains" in obj and "timestamp" in obj:
                seen.add("multi_push")
                assert set(obj) == shapes["multi_push"], where
            elif "domains" in obj:
                seen.add("multi_envelope")
                assert set(obj) <= shapes["multi_envelope"], where
            elif "changes" in obj and "has_more" in obj:
                seen.add("multi_pull")
                assert set(obj) == shapes["multi_pull"], where
            elif "entries" in obj:
                seen.add("envelope")
                assert set(obj) <= shapes["envelope"], where
            elif "has_more" in obj:
                seen.add("pull")
                assert set(obj) == shapes["pull"], where
            elif "code" in obj:
                seen.add("error_body")
                assert set(obj) <= shapes["error_body"] and obj["code"] in codes, where
            if "updated_at" in obj:  # a record as the server sends it (a pull item, server_data)
                assert shapes["tombstone"] <= set(obj), where
                if obj["deleted"]:
                    assert set(obj) == shapes["tombstone"], where
    assert seen == {
        "push",
        "envelope",
        "pull",
        "error_body",
        "multi_push",
        "multi_envelope",
        "multi_pull",
    }


def documented_codes() -> dict[str, int]:
    """``{code: status}`` from the errors table of protocol.md."""
    rows = section(DOCS / "protocol.md", "## Errors")
    codes = {}
    for status, cells in re.findall(r"^\| (\d{3}) \| ([^|]+) \|", rows, re.M):
        for code in re.findall(r"`(\w+)`", cells):
            codes[code] = int(status)
    return codes
