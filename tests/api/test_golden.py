"""The exact wire shapes of a push and a pull (docs/protocol.md), kept in golden JSON files.

Timestamps and cursors vary from run to run and are replaced by placeholders; everything
else (field names, statuses, nesting, order) must match the golden file byte for byte.
Regenerate with ``UPDATE_GOLDEN=1 pytest tests/api/test_golden.py`` after a deliberate change.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.helpers.api import pull, push
from tests.testapp.models import Task

GOLDEN = Path(__file__).parent / "golden"


TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def ids(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def normalise(body: dict) -> dict:
    text = TIMESTAMP.sub("<timestamp>", json.dumps(body, sort_keys=True))
    text = re.sub(r'"user": "[^"]*"', '"user": "<user>"', text)
    data = json.loads(text)
    for key in ("cursor", "next_cursor"):
        if key in data:
            assert isinstance(data[key], str) and data[key]
            data[key] = "<cursor>"
    return data


def check(name: str, body: dict) -> None:
    path = GOLDEN / f"{name}.json"
    actual = json.dumps(normalise(body), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual)
    assert actual == path.read_text(), f"{name}: wire format changed; see {path}"


def test_push_response_with_every_status(client, domain_options):
    push(client, [{"mobile_id": ids(n), "title": f"Task {n}"} for n in (2, 3, 4, 5, 6)])
    Task.objects.filter(mobile_id__in=[ids(5), ids(6)]).update(notes="server edit")
    with domain_options(resolver="server_wins"):
        resolved = push(client, [{"mobile_id": ids(6), "version": 1, "notes": "device"}])
    check("push_resolved", resolved.json())
    body = push(
        client,
        [
            {"mobile_id": ids(1), "title": "New", "priority": 1},  # created
            {"mobile_id": ids(2), "version": 1, "title": "Renamed"},  # updated
            {"mobile_id": ids(3), "version": 1, "deleted": True},  # deleted
            {"mobile_id": ids(4), "version": 1, "title": "Task 4"},  # unchanged
            {"mobile_id": ids(5), "version": 1, "notes": "device edit"},  # conflict
            {"mobile_id": ids(7), "title": ""},  # error
        ],
    ).json()
    check("push_every_status", body)


def test_pull_response(client):
    push(
        client,
        [
            {"mobile_id": ids(1), "title": "Kept", "priority": 2},
            {"mobile_id": ids(2), "title": "Gone"},
        ],
    )
    push(client, [{"mobile_id": ids(2), "version": 1, "deleted": True}])
    check("pull_page", pull(client, limit=1).json())
    first = pull(client, limit=1).json()
    check("pull_tombstone", pull(client, limit=1, cursor=first["next_cursor"]).json())


def test_error_bodies(client):
    check("error_bad_limit", pull(client, limit="x").json())
    check("error_bad_cursor", pull(client, cursor="forged").json())
    check("error_batch_envelope", push(client, "not a list").json())
